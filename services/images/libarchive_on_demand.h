// What berth-images can ask of the libarchive it opens at the first archive
// (libarchive_on_demand.cc): close it again once nothing has used it for a while.
#pragma once

#include <chrono>

namespace berth::images {

// Closes libarchive (and the libraries only it brought in) when no archive or entry made
// through it is alive and none has been for `idleFor`; the next archive opens it again. True
// when it closed it. Called from the service's periodic memory look.
bool closeLibarchiveIfIdle(std::chrono::steady_clock::duration idleFor);

// Whether libarchive is open in this process now.
bool libarchiveIsOpen();

}  // namespace berth::images
