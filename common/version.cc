#include "common/version.h"

namespace berth {
const char* gitCommit() { return BERTH_GIT_COMMIT; }
}  // namespace berth
