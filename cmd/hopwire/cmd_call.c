/* hopwire call: placeholder until its layer lands (owned by the call work). */
#include <stdio.h>

#include "commands.h"

int hop_cmd_call(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "hopwire call: not built yet\n");
  return 1;
}
