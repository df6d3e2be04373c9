/* Cached free blocks are poisoned under ASan, so a use after "free" into a cache is still
 * reported. */
#ifndef HOP_CORE_POISON_H
#define HOP_CORE_POISON_H

#if defined(__SANITIZE_ADDRESS__)
#define HOP_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOP_HAVE_ASAN 1
#endif
#endif

#ifdef HOP_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#define HOP_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define HOP_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define HOP_POISON(p, n) ((void)(p), (void)(n))
#define HOP_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
