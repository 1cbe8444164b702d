// Build identity. The commit lives in one object file so a new commit rebuilds only that file.
#pragma once

namespace berth {
const char* gitCommit();
}  // namespace berth
