/*
 * t_loop — run a test's libevent loop until a condition holds, for the
 * unit tests that drive real sockets (io, uppool).
 */
#ifndef SIGNET_T_LOOP_H
#define SIGNET_T_LOOP_H

#include <sys/time.h>

#include <event2/event.h>

/* Run base in 10 ms slices until cond holds or about 2 s have passed. */
#define T_RUN_UNTIL(base, cond) do {					\
	int	 i_;							\
	for (i_ = 0; i_ < 200 && !(cond); i_++) {			\
		struct timeval tv_ = { 0, 10000 };			\
		event_base_loopexit((base), &tv_);			\
		event_base_dispatch((base));				\
	}								\
} while (0)

#endif
