/* Answering a request for oa/http.h: complete responses with a known length, the API's
 * JSON error body, and response headers. Bodies and header strings are copied into the
 * request's pool, so callers may pass stack buffers. */
#include "oa/http.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Error bodies are short; a message longer than this is cut by oa_buf (E2BIG) and the
 * status alone is sent with a generic body. */
#define ERROR_BODY_MAX 4096

int oa_http_error_body(oa_buf *b, const char *code, const char *message) {
        size_t orig = b->len;
        int r;

        r = oa_buf_adds(b, "{\"error\":\"");
        if (r == 0)
                r = oa_buf_add_json_str(b, code, strlen(code));
        if (r == 0)
                r = oa_buf_adds(b, "\",\"message\":\"");
        if (r == 0)
                r = oa_buf_add_json_str(b, message, strlen(message));
        if (r == 0)
                r = oa_buf_adds(b, "\"}");
        if (r < 0) {
                b->len = orig;
                if (b->data)
                        b->data[orig] = '\0';
        }
        return r;
}

const char *oa_http_reason(int status) {
        switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 413: return "Payload Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Entity";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "Unknown";
        }
}

/* value in decimal, in req->pool. */
static h2o_iovec_t decimal(h2o_req_t *req, uint64_t value) {
        char num[20], *p = num + sizeof(num);
        h2o_iovec_t v;

        do {
                *--p = (char) ('0' + value % 10);
                value /= 10;
        } while (value);
        v.len = (size_t) (num + sizeof(num) - p);
        v.base = h2o_mem_alloc_pool(&req->pool, v.len);
        memcpy(v.base, p, v.len);
        return v;
}

/* h2o keys headers by their lower-case name (a token when it knows the name) and writes
 * the original spelling on HTTP/1.x; it copies that spelling itself. */
static void add_header_v(h2o_req_t *req, const char *name, h2o_iovec_t v) {
        size_t nlen = strlen(name);
        h2o_iovec_t lower = h2o_strdup(&req->pool, name, nlen);

        h2o_strtolower(lower.base, lower.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, lower.base, lower.len, 1, name,
                              v.base, v.len);
}

void oa_http_add_header(h2o_req_t *req, const char *name, const char *value) {
        add_header_v(req, name, h2o_strdup(&req->pool, value, strlen(value)));
}

void oa_http_add_header_u64(h2o_req_t *req, const char *name, uint64_t value) {
        add_header_v(req, name, decimal(req, value));
}

void oa_http_add_named_u64(h2o_req_t *req, const oa_http_name *name, uint64_t value) {
        h2o_iovec_t v = decimal(req, value);

        /* Not a name h2o has a token for: no lookup. */
        h2o_add_header_by_str(&req->pool, &req->res.headers, name->lower.base, name->lower.len, 0,
                              name->orig, v.base, v.len);
}

/* Generators of complete, in-memory responses need no callbacks. */
static h2o_generator_t static_generator = { NULL, NULL };

static void send_bytes(h2o_req_t *req, int status, const char *content_type,
                       const void *body, size_t len, size_t content_length) {
        h2o_iovec_t buf = h2o_iovec_init(NULL, 0);

        req->res.status = status;
        req->res.reason = oa_http_reason(status);
        req->res.content_length = content_length;
        if (content_type)
                h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                               content_type, strlen(content_type));
        if (len && !h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
                buf = h2o_strdup(&req->pool, body, len);
        h2o_start_response(req, &static_generator);
        h2o_send(req, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_FINAL);
}

void oa_http_send(h2o_req_t *req, int status, const char *content_type, const void *body,
                  size_t len) {
        send_bytes(req, status, content_type, body, len, len);
}

void oa_http_send_json(h2o_req_t *req, int status, const char *body, size_t len) {
        send_bytes(req, status, "application/json", body, len, len);
}

void oa_http_send_error(h2o_req_t *req, int status, const char *code, const char *message) {
        oa_buf b;

        oa_buf_init(&b, ERROR_BODY_MAX);
        if (oa_http_error_body(&b, code, message) < 0 &&
            oa_http_error_body(&b, code, oa_http_reason(status)) < 0) {
                /* Out of memory for a few bytes: still answer with the status. */
                send_bytes(req, status, NULL, NULL, 0, 0);
        } else
                send_bytes(req, status, "application/json", b.data, b.len, b.len);
        oa_buf_done(&b);
}

void oa_http_send_empty(h2o_req_t *req, int status) {
        bool no_length = status == 204 || status == 304 || (status >= 100 && status < 200);

        send_bytes(req, status, NULL, NULL, 0, no_length ? SIZE_MAX : 0);
}
