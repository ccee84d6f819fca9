/* Signals and clean shutdown. SIGTERM and SIGINT set a flag and make a self-pipe readable,
 * so a poll loop or an h2o event loop wakes up at once; SIGPIPE is ignored (a closed peer
 * shows up as EPIPE instead of killing the daemon). */
#ifndef OA_SIG_H
#define OA_SIG_H

#include <stdbool.h>

/* Install the handlers. Returns 0 or a negative errno. Call once, early in main. */
int oa_sig_setup(void);

/* True once SIGTERM or SIGINT arrived (or oa_sig_request_stop was called). */
bool oa_sig_stop_requested(void);

/* Ask for a stop as if a signal came (e.g. from a fatal error path). */
void oa_sig_request_stop(void);

/* The read end of the self-pipe: readable once a stop is requested; -1 before setup. */
int oa_sig_fd(void);

/* The signal that asked for the stop (SIGTERM, SIGINT), or 0. */
int oa_sig_last(void);

#endif
