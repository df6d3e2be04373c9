/* hopwire bench: placeholder until its layer lands (owned by the bench work). */
#include <stdio.h>

#include "commands.h"

int hop_cmd_bench(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "hopwire bench: not built yet\n");
  return 1;
}
