/* The event model of ingestion: the two request bodies of oa-edge parsed and validated
 * into an oa.Event (protos/event.proto), its pure enrichment (URL, UTM, referrer source,
 * event id, times, visitor id), the Kafka key and the protobuf bytes. Everything is a
 * plain function of its inputs, testable without sockets; docs/events.md has the rules.
 *
 * Memory: every event, string and message comes from a caller's oa_arena (oa/arena.h),
 * so nothing here is freed by hand: oa-edge hands each request an arena over req->pool,
 * a test or a bench an own arena. Strings in an event are NUL-terminated, valid UTF-8
 * (as protobuf requires) and never NULL (protobuf_c_empty_string when absent).
 *
 * Errors: 0 on success, -E2BIG for a body past its cap, -EINVAL for a bad body with the
 * reason in errbuf as "<field>: <reason>" (the JSON message of a 400 validation_error
 * and the detail of a /collect drop), -ENOMEM. Nothing logs. */
#ifndef OA_EVENT_H
#define OA_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.pb-c.h"
#include "oa/arena.h"
#include "oa/visitor.h"

/* POST /collect (browser snippet) */
#define OA_EVENT_COLLECT_MAX_BODY (16 * 1024)
#define OA_EVENT_COLLECT_MAX_PROPS 30
#define OA_EVENT_COLLECT_MAX_PROP_VALUE 256
/* POST /v1/projects/{id}/events */
#define OA_EVENT_API_MAX_BODY (1024 * 1024)
#define OA_EVENT_API_MAX_EVENTS 500
#define OA_EVENT_API_MAX_EVENT_BYTES (32 * 1024)
#define OA_EVENT_API_MAX_PROPS 50
#define OA_EVENT_API_MAX_PROP_VALUE 1024
#define OA_EVENT_API_PAST_MS (31LL * 24 * 3600 * 1000)
#define OA_EVENT_API_FUTURE_MS (10LL * 60 * 1000)
/* both (bytes of UTF-8) */
#define OA_EVENT_MAX_URL 2048
#define OA_EVENT_MAX_TITLE 512
#define OA_EVENT_MAX_NAME 200
#define OA_EVENT_MAX_TYPE 32
#define OA_EVENT_MAX_USER_ID 256
#define OA_EVENT_MAX_USER_AGENT 1024
#define OA_EVENT_MAX_PROP_KEY 64
#define OA_EVENT_MAX_SCREEN_WIDTH 100000
#define OA_EVENT_ERR_MAX 256            /* a "field: reason" message and its NUL */

#define OA_EVENT_IP_MAX 46                 /* INET6_ADDRSTRLEN: an address and its NUL */

/* Check that s (n bytes) is an IPv4 or IPv6 address (no zone, no port) and write its
 * canonical text into ret (OA_EVENT_IP_MAX bytes): IPv6 compressed and lower-cased,
 * an IPv4-mapped IPv6 address as plain IPv4. Returns 0 or -EINVAL. */
int oa_event_ip_normalize(const char *s, size_t n, char *ret);

/* A new event initialised as protobuf-c does (OA__EVENT__INIT) plus version 1, in a.
 * Returns NULL when the arena is out of memory. */
Oa__Event *oa_event_new(oa_arena *a);

/* Parse and validate a POST /collect body (len bytes, not NUL-terminated) into a new
 * event in a with source COLLECT: site_id, event_type, event_name, url, referrer, title,
 * screen_width, properties, revenue. Times, ids, client and URL-derived fields are left
 * to oa_event_enrich. Returns 0 and sets *ret_ev; -E2BIG past OA_EVENT_COLLECT_MAX_BODY
 * (drop reason too_large); -EINVAL (drop reason invalid; errbuf says why); -ENOMEM. */
int oa_event_parse_collect(const void *body, size_t len, oa_arena *a, Oa__Event **ret_ev,
                           char *errbuf, size_t errlen);

/* Options of oa_event_parse_api. */
typedef struct oa_event_api_opts {
        int64_t now_ms;         /* the receive time: a missing timestamp means this */
        int64_t past_ms;        /* oldest timestamp accepted: now_ms - past_ms */
        int64_t future_ms;      /* newest: now_ms + future_ms */
        size_t max_body;
        size_t max_events;
        size_t max_event_bytes; /* of one event's JSON text, '{' to '}' */
} oa_event_api_opts;

/* The defaults above (31 days, 10 minutes, 1 MB, 500 events, 32 KB) for now_ms. */
void oa_event_api_opts_default(oa_event_api_opts *o, int64_t now_ms);

/* One event of a /v1 request: accepted (ev set) or rejected (error set). */
typedef struct oa_event_item {
        Oa__Event *ev;          /* NULL when rejected */
        const char *error;      /* "<field>: <reason>" when rejected, else NULL */
} oa_event_item;

typedef struct oa_event_batch {
        bool is_batch;          /* {"events": [...]} or a bare array, not one object */
        size_t n;               /* events in the request */
        size_t n_accepted;
        oa_event_item *items;   /* n items in request order (arena) */
} oa_event_batch;

/* Parse and validate a POST /v1/projects/{id}/events body: one event object, or
 * {"events": [...]} (a bare array is taken too) of 1 to max_events events, each judged
 * on its own, with source API. Returns 0 and fills *ret even when every event was
 * rejected (the caller answers 400 with the first message then). Whole-request errors:
 * -E2BIG past max_body (413 payload_too_large); -EINVAL for malformed JSON, a wrong
 * shape, no event or too many (400; errbuf holds the message); -ENOMEM. */
int oa_event_parse_api(const void *body, size_t len, const oa_event_api_opts *o, oa_arena *a,
                       oa_event_batch *ret, char *errbuf, size_t errlen);

/* What oa-edge knows about a request besides its body. */
typedef struct oa_event_enrich_in {
        const char *project_id;         /* required: the project the event belongs to */
        const char *site_id;            /* the project's site_id, input of the keyed
                                         * visitor hash; NULL: the event's own */
        int64_t now_ms;                 /* receive time, Unix ms */
        const oa_visitor_key *salt;     /* today's salt; required unless every event
                                         * has a user_id */
        /* /collect only (the body of /v1 carries its own): the client's IP as text
         * (socket peer or trusted X-Forwarded-For; invalid or NULL: none) and its
         * User-Agent header (need not be NUL-terminated; NULL: none) */
        const char *ip;
        const char *user_agent;
        size_t user_agent_len;
} oa_event_enrich_in;

/* Fill what the server derives, from in and the event's own fields: version,
 * project_id, received_ms, timestamp_ms (now when unset), event_id (a new UUIDv7 when
 * unset), ip and user_agent (source COLLECT: from in, normalised, the User-Agent cut to
 * OA_EVENT_MAX_USER_AGENT and made valid UTF-8), hostname, path and utm_* (from url),
 * referrer_host and referrer_source (oa/url.h), visitor_id (oa/visitor.h: from user_id
 * when given, else the keyed hash of site, IP and User-Agent, else from the event id).
 * Country, browser, OS and device are left to the geo and UA modules. Returns 0,
 * -EINVAL (no project_id, or a salt is needed and missing) or -ENOMEM. */
int oa_event_enrich(Oa__Event *ev, const oa_event_enrich_in *in, oa_arena *a);

/* Write the Kafka key of an enriched event, project_id "/" visitor_id, and a NUL into
 * buf. Returns its length, or -E2BIG when len is too small. */
int oa_event_kafka_key(const Oa__Event *ev, char *buf, size_t len);

/* The protobuf bytes of ev, in a. Returns 0, sets *ret_buf and *ret_len; -ENOMEM. */
int oa_event_pack(const Oa__Event *ev, oa_arena *a, uint8_t **ret_buf, size_t *ret_len);

/* The protobuf bytes of ev into buf of cap bytes. Returns 0 and sets *ret_len, or
 * -E2BIG (nothing useful written) when cap is too small. */
int oa_event_pack_into(const Oa__Event *ev, uint8_t *buf, size_t cap, size_t *ret_len);

/* Decode protobuf bytes into an event allocated in a (for consumers and tests). Returns
 * NULL when the bytes are not an oa.Event or memory is short. */
Oa__Event *oa_event_unpack(const uint8_t *data, size_t len, oa_arena *a);

#endif
