/* Tests for libshared/src/ch_error.c: ClickHouse error bodies as 18.16 and current servers
 * send them (the 18.16 rows were captured from clickhouse-server 18.16.1), and errors
 * hidden in 200 answers. */
#include "oa/ch.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

/* Criterion runs each row in a fresh process: rows hold their bytes, not pointers. */
struct parse_row {
        char body[512];
        int code;
        char msg[384];
};

ParameterizedTestParameters(oa_ch, error_parse_real_bodies) {
        static struct parse_row rows[] = {
                /* 18.16, HTTP 400 */
                { "Code: 62, e.displayText() = DB::Exception: Syntax error: failed at position 1: SELEC 1. "
                  "Expected one of: SYSTEM query, SELECT subquery, DESC, e.what() = DB::Exception\n",
                  62, "Syntax error: failed at position 1: SELEC 1. Expected one of: SYSTEM query, SELECT subquery, DESC" },
                /* 18.16, HTTP 404 */
                { "Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., e.what() = DB::Exception\n",
                  60, "Table default.nope doesn't exist." },
                { "Code: 81, e.displayText() = DB::Exception: Database nodb doesn't exist, e.what() = DB::Exception\n",
                  81, "Database nodb doesn't exist" },
                { "Code: 115, e.displayText() = DB::Exception: Unknown setting nosuchsetting, e.what() = DB::Exception\n",
                  115, "Unknown setting nosuchsetting" },
                /* 18.16, HTTP 401 */
                { "Code: 193, e.displayText() = DB::Exception: Wrong password for user oa, e.what() = DB::Exception\n",
                  193, "Wrong password for user oa" },
                /* 18.16, HTTP 500, a newline inside the message */
                { "Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected \" before: x\",\"s\":\"b\"}\\n: "
                  "(while read the value of key id): (at row 2)\n, e.what() = DB::Exception\n",
                  27, "Cannot parse input: expected \" before: x\",\"s\":\"b\"}\\n: (while read the value of key id): (at row 2)" },
                { "Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.000000059 seconds, maximum: 1, "
                  "e.what() = DB::Exception\n",
                  159, "Timeout exceeded: elapsed 1.000000059 seconds, maximum: 1" },
                /* 21.x */
                { "Code: 60, e.displayText() = DB::Exception: Table default.wtf doesn't exist (version 21.3.1.1)\n",
                  60, "Table default.wtf doesn't exist" },
                /* 23.x - 25.x */
                { "Code: 62. DB::Exception: Syntax error: failed at position 1 ('SELEC'): SELEC 1. Expected one of: "
                  "Query. (SYNTAX_ERROR) (version 25.3.2.39 (official build))\n",
                  62, "Syntax error: failed at position 1 ('SELEC'): SELEC 1. Expected one of: Query. (SYNTAX_ERROR)" },
                { "Code: 60. DB::Exception: Table default.nope does not exist. (UNKNOWN_TABLE) (version 23.8.1.1)\n",
                  60, "Table default.nope does not exist. (UNKNOWN_TABLE)" },
                { "Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no "
                  "user with such name. (AUTHENTICATION_FAILED) (version 24.3.1.2672 (official build))\n",
                  516, "default: Authentication failed: password is incorrect, or there is no user with such name. "
                  "(AUTHENTICATION_FAILED)" },
                { "Code: 395. DB::Exception: Value passed to 'throwIf' function is non-zero: while executing "
                  "'FUNCTION throwIf(equals(number, 2) :: 1) -> throwIf(equals(number, 2))'. "
                  "(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO) (version 24.8.4.13 (official build))",
                  395, "Value passed to 'throwIf' function is non-zero: while executing 'FUNCTION throwIf(equals(number, 2) "
                  ":: 1) -> throwIf(equals(number, 2))'. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)" },
                { "Code: 10. DB::Exception: Not found column x. (NOT_FOUND_COLUMN_IN_BLOCK) (version 24.1.1)\n"
                  "Stack trace:\n0. DB::Exception::Exception()\n",
                  10, "Not found column x. (NOT_FOUND_COLUMN_IN_BLOCK)" },
                /* leading blank lines, tabs inside */
                { "\r\n\nCode: 1, e.displayText() = DB::Exception: a\t\tb, e.what() = DB::Exception", 1, "a b" },
                /* not ClickHouse: the first line, cleaned */
                { "<html><head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>\n",
                  0, "<html><head><title>502 Bad Gateway</title></head>" },
                { "", 0, "" },
                { "Code: abc", 0, "Code: abc" },
                { "Code: ", 0, "Code:" },
                { "Ok.\n", 0, "Ok." },
        };

        return cr_make_param_array(struct parse_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct parse_row *row, oa_ch, error_parse_real_bodies) {
        char msg[512];

        cr_assert_eq(oa_ch_error_parse(row->body, strlen(row->body), msg, sizeof(msg)), row->code);
        cr_assert_str_eq(msg, row->msg);
}

Test(oa_ch, error_parse_truncates_to_errlen) {
        const char *body = "Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., "
                           "e.what() = DB::Exception\n";
        char msg[9];

        cr_assert_eq(oa_ch_error_parse(body, strlen(body), msg, sizeof(msg)), 60);
        cr_assert_str_eq(msg, "Table de");
}

Test(oa_ch, error_parse_huge_code_does_not_overflow) {
        const char *body = "Code: 99999999999999999999999, e.displayText() = DB::Exception: x";
        char msg[64];

        cr_assert_gt(oa_ch_error_parse(body, strlen(body), msg, sizeof(msg)), 0);
        cr_assert_str_eq(msg, "x");
}

Test(oa_ch, error_parse_reads_only_len_bytes) {
        const char body[] = { 'C', 'o', 'd', 'e', ':', ' ', '7', '.', ' ', 'x' };   /* no NUL */
        char msg[64];

        cr_assert_eq(oa_ch_error_parse(body, sizeof(body), msg, sizeof(msg)), 7);
        cr_assert_str_eq(msg, "x");
}

struct body_row {
        char name[40];
        char body[640];
        bool json;
        char tag[20];           /* "": no X-ClickHouse-Exception-Tag header */
        int found;
        int code;
        char msg[128];
};

#define JSON_HEAD "{\n\t\"meta\":\n\t[\n\t\t{\n\t\t\t\"name\": \"n\",\n\t\t\t\"type\": \"UInt64\"\n\t\t}\n\t],\n\n" \
                  "\t\"data\":\n\t[\n"
#define JSON_ROW "\t\t{\n\t\t\t\"n\": 499999\n\t\t}"
#define JSON_TAIL "\n\t],\n\n\t\"rows\": 1,\n\n\t\"statistics\":\n\t{\n\t\t\"elapsed\": 0.0001,\n" \
                  "\t\t\"rows_read\": 1,\n\t\t\"bytes_read\": 8\n\t}\n}\n"
#define TRAILER_1816 "Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero, " \
                     "e.what() = DB::Exception\n"

ParameterizedTestParameters(oa_ch, body_error_cases) {
        static struct body_row rows[] = {
                { "empty", "", true, "", 0, 0, "" },
                { "clean_json", JSON_HEAD JSON_ROW JSON_TAIL, true, "", 0, 0, "" },
                { "json_data_mentions_error",
                  "{\"data\":[{\"n\":18446744073709551615,\"s\":\"x}Code: 1, e.displayText() = DB::Exception: fake\"}]}\n",
                  true, "", 0, 0, "" },
                /* 18.16 FORMAT JSON: the trailer right after the last row, mid-line */
                { "json_1816_mid_result", JSON_HEAD JSON_ROW TRAILER_1816, true, "", 1, 395,
                  "Value passed to 'throwIf' function is non zero" },
                /* 18.16 JSONEachRow: the trailer on a line of its own */
                { "jsoneachrow_1816_mid_result",
                  "{\"number\":\"499998\"}\n{\"number\":\"499999\"}\n" TRAILER_1816, true, "", 1, 395,
                  "Value passed to 'throwIf' function is non zero" },
                /* data that mimics an error, then the real one: the last one counts */
                { "json_1816_forged_then_real",
                  JSON_HEAD "\t\t{\n\t\t\t\"s\": \"Code: 1, e.displayText() = DB::Exception: fake\"\n\t\t}" TRAILER_1816,
                  true, "", 1, 395, "Value passed to 'throwIf' function is non zero" },
                /* 23.x - 24.x with http_write_exception_in_output_format: a JSON key */
                { "json_exception_key",
                  "{\"meta\":[],\"data\":[{\"n\":1}],\"rows\":1,\"exception\":\"Code: 395. DB::Exception: boom. "
                  "(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO) (version 24.3.1.1)\"}\n",
                  true, "", 1, 395, "boom. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)" },
                { "json_exception_key_nested_is_data",
                  "{\"data\":[{\"exception\":\"Code: 1. DB::Exception: x\"}]}", true, "", 0, 0, "" },
                /* 25.11+: the framed block, tag from the header */
                { "framed_with_tag",
                  "1\n2\n\r\n__exception__\r\nabcdefghijklmnop\r\nCode: 395. DB::Exception: boom. "
                  "(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO) (version 25.11.1.1)\n91 abcdefghijklmnop\r\n__exception__\r\n",
                  false, "abcdefghijklmnop", 1, 395, "boom. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)" },
                { "framed_in_json",
                  JSON_HEAD JSON_ROW "\r\n__exception__\r\nabcdefghijklmnop\r\nCode: 241. DB::Exception: Memory "
                  "limit exceeded. (MEMORY_LIMIT_EXCEEDED) (version 25.11.1.1)\n80 abcdefghijklmnop\r\n__exception__\r\n",
                  true, "abcdefghijklmnop", 1, 241, "Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)" },
                { "framed_without_tag_header",
                  "x\r\n__exception__\r\nqqqqqqqqqqqqqqqq\r\nCode: 3. DB::Exception: eof\n27 qqqqqqqqqqqqqqqq\r\n__exception__\r\n",
                  false, "", 1, 3, "eof" },
                { "framed_other_tag_is_data",
                  "x\r\n__exception__\r\nqqqqqqqqqqqqqqqq\r\nCode: 3. DB::Exception: eof\n27 qqqqqqqqqqqqqqqq\r\n__exception__\r\n",
                  false, "abcdefghijklmnop", 0, 0, "" },
                /* 25.3 / 25.8: marker line, then the text */
                { "marker_then_text", "1\n2\n__exception__\nCode: 395. DB::Exception: boom (version 25.3.1.1)\n",
                  false, "", 1, 395, "boom" },
                /* TabSeparated data that only mentions it, mid-line */
                { "tsv_mention_mid_line", "1\tCode: 5, e.displayText() = DB::Exception: x\n", false, "", 0, 0, "" },
                { "tsv_1816_trailer", "1\n2\n" TRAILER_1816, false, "", 1, 395,
                  "Value passed to 'throwIf' function is non zero" },
                /* JSON cut short, with no error text in reach: never data */
                { "json_broken", "{\"data\":[{\"s\":\"Code: 1\"}", true, "", 1, 0, "the answer is not valid JSON" },
        };

        return cr_make_param_array(struct body_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct body_row *row, oa_ch, body_error_cases) {
        char msg[256] = "";
        int code = -1, found;

        found = oa_ch_body_error(row->body, strlen(row->body), row->json, row->tag[0] ? row->tag : NULL, &code, msg, sizeof(msg));
        cr_assert_eq(found, row->found, "%s: found %d", row->name, found);
        if (!found)
                return;
        cr_assert_eq(code, row->code, "%s: code %d", row->name, code);
        cr_assert_str_eq(msg, row->msg, "%s", row->name);
}
