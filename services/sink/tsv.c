/* ClickHouse's TabSeparated output: fields split by tabs, rows by newlines, and in a
 * field \b \f \r \n \t \0 \' \\ written as escapes (and \xHH read for any byte). */
#include "sink.h"

#include <errno.h>

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int oa_sink_tsv_split(char *line, size_t len, char **ret_f, size_t *ret_len, size_t max) {
        size_t n = 0, i = 0;

        for (;;) {
                char *out = line + i, *start = out;

                if (n == max)
                        return -EPROTO;
                ret_f[n] = start;
                while (i < len && line[i] != '\t') {
                        char c = line[i++];

                        if (c == '\\' && i < len) {
                                char e = line[i++];

                                switch (e) {
                                case 'b': c = '\b'; break;
                                case 'f': c = '\f'; break;
                                case 'r': c = '\r'; break;
                                case 'n': c = '\n'; break;
                                case 't': c = '\t'; break;
                                case '0': c = '\0'; break;
                                case 'x':
                                        if (i + 1 < len && hexval(line[i]) >= 0 && hexval(line[i + 1]) >= 0) {
                                                c = (char) (hexval(line[i]) * 16 + hexval(line[i + 1]));
                                                i += 2;
                                        } else {
                                                c = 'x';
                                        }
                                        break;
                                default: c = e; break;     /* \\ \' and any other */
                                }
                        }
                        *out++ = c;
                }
                ret_len[n] = (size_t) (out - start);
                *out = '\0';          /* over the tab, or line[len] (writable: see sink.h) */
                n++;
                if (i >= len)
                        return (int) n;
                i++;            /* the tab */
        }
}
