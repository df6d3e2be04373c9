/* hop_version(): the version the library was built as (include/hopwire/version.h.in). */
#include "hopwire/version.h"

const char *hop_version(void) { return HOP_VERSION_STRING; }

unsigned hop_version_num(void) { return HOP_VERSION_NUM; }
