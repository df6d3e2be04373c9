/* Tests' throwaway PostgreSQL: the implementation lives in apps/events/pgctl.{h,c} so that
 * hopwire fault-bench shares it (link hop_pipeline). */
#ifndef HOP_TEST_PGTEST_H
#define HOP_TEST_PGTEST_H
#include "events/pgctl.h"
#endif
