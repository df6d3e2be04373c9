/* hopwire: umbrella header. */
#ifndef HOPWIRE_H
#define HOPWIRE_H
#include "hopwire/export.h"
#include "hopwire/version.h" /* generated: build tree, or the installed include dir */
#include "hopwire/error.h"
#include "hopwire/types.h"
#include "hopwire/stats.h"
#include "hopwire/server.h"
#include "hopwire/client.h"
#include "hopwire/rpc.h"
#include "hopwire/events.h"
#endif
