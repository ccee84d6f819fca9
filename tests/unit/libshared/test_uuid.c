/* Tests for libshared/src/uuid.c: UUIDv7 layout and uniqueness, and the normalisation of
 * client ids, with the hostile rows. */
#include "oa/uuid.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

Test(oa_uuid, v7_from_has_time_version_and_variant) {
        static const unsigned char ones[10] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const unsigned char zeros[10] = { 0 };
        char id[OA_UUID_LEN + 1];

        /* RFC 9562 appendix A.6: 2022-02-22 19:22:22 UTC = 0x017F22E279B0 ms */
        oa_uuid_v7_from(0x017F22E279B0LL, zeros, id);
        cr_assert_str_eq(id, "017f22e2-79b0-7000-8000-000000000000");
        oa_uuid_v7_from(0x017F22E279B0LL, ones, id);
        cr_assert_str_eq(id, "017f22e2-79b0-7fff-bfff-ffffffffffff");
}

Test(oa_uuid, v7_is_unique_ordered_by_ms_and_valid) {
        enum { N = 5000 };
        char (*ids)[OA_UUID_LEN + 1] = malloc(N * sizeof(*ids));
        char norm[OA_UUID_LEN + 1];

        for (int i = 0; i < N; i++) {
                cr_assert_eq(oa_uuid_v7(1747000000000LL + i, ids[i]), 0);
                cr_assert_eq(oa_uuid_normalize(ids[i], OA_UUID_LEN, norm), 0);
                cr_assert_str_eq(norm, ids[i]);
                cr_assert_eq(ids[i][14], '7');
                cr_assert(strchr("89ab", ids[i][19]));
                if (i)
                        cr_assert_lt(strcmp(ids[i - 1], ids[i]), 0);
        }
        for (int i = 0; i < N; i++) {
                char same[OA_UUID_LEN + 1];

                cr_assert_eq(oa_uuid_v7(1747000000000LL, same), 0);
                cr_assert_str_neq(same, ids[0]);
        }
        free(ids);
}

struct norm_row {
        char in[48];
        char want[40];          /* "" = -EINVAL */
};

ParameterizedTestParameters(oa_uuid, normalize_rows) {
        static struct norm_row rows[] = {
                { "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7b", "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7b" },
                { "0190A6F0-7C4E-7B3A-9F1E-2C3D4E5F6A7B", "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7b" },
                { "f47ac10b-58cc-4372-a567-0e02b2c3d479", "f47ac10b-58cc-4372-a567-0e02b2c3d479" },   /* v4 */
                { "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8" },   /* v1 */
                { "00000000-0000-0000-0000-000000000000", "" },
                { "ffffffff-ffff-ffff-ffff-ffffffffffff", "" },
                { "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "" },
                { "0190a6f07c4e7b3a9f1e2c3d4e5f6a7b", "" },
                { "{0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7b}", "" },
                { "urn:uuid:0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7b", "" },
                { "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7", "" },
                { "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7bb", "" },
                { "0190a6f0_7c4e-7b3a-9f1e-2c3d4e5f6a7b", "" },
                { "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7g", "" },
                { "0190a6f-07c4e-7b3a-9f1e-2c3d4e5f6a7b", "" },
                { " 0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7", "" },
                { "", "" },
        };
        return cr_make_param_array(struct norm_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct norm_row *row, oa_uuid, normalize_rows) {
        char out[OA_UUID_LEN + 1] = "untouched";
        int r = oa_uuid_normalize(row->in, strlen(row->in), out);

        if (!row->want[0]) {
                cr_assert_eq(r, -EINVAL, "%s", row->in);
                cr_assert_str_eq(out, "untouched");
        } else {
                cr_assert_eq(r, 0, "%s", row->in);
                cr_assert_str_eq(out, row->want);
        }
}

Test(oa_uuid, normalize_rejects_embedded_nul) {
        char out[OA_UUID_LEN + 1];

        cr_assert_eq(oa_uuid_normalize("0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7\0", OA_UUID_LEN, out), -EINVAL);
        cr_assert_eq(oa_uuid_normalize(NULL, 0, out), -EINVAL);
}
