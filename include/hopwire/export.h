/* hopwire: HOP_EXPORT marks the public API.
 *
 * libhopwire is compiled with -fvisibility=hidden: only declarations carrying HOP_EXPORT (every
 * function declared in the headers of include/hopwire/, all hop_) are exported from libhopwire.so.
 * tests/integration/test_install_symbols.sh checks both directions. */
#ifndef HOPWIRE_EXPORT_H
#define HOPWIRE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define HOP_EXPORT __attribute__((visibility("default")))
#else
#define HOP_EXPORT
#endif

#endif
