/* hopwire serve: placeholder until its layer lands (owned by the serve work). */
#include <stdio.h>

#include "commands.h"

int hop_cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "hopwire serve: not built yet\n");
  return 1;
}
