
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn_key_valid(): the one key check of uploads, the origin and every
 * task.  Rows are { key bytes, length, expected }; a length of -1 means
 * strlen().
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sfn_task.h"


typedef struct {
    const char           *key;
    int                   len;
    int                   valid;
} sfn_t_key_t;


static const sfn_t_key_t  key_cases[] = {

    /* what clients use */
    { "clip.mp4", -1, 1 },
    { "uploads/2026/clip.mp4", -1, 1 },
    { "a b+c%.mp4", -1, 1 },
    { "%2e%2e/x", -1, 1 },                   /* no decoding here: literal */
    { "caf\xc3\xa9/\xe6\x98\xa0\xe5\x83\x8f.mp4", -1, 1 },
    { "emoji-\xf0\x9f\x8e\xac.mov", -1, 1 },
    { ".hidden", -1, 1 },
    { "...", -1, 1 },
    { "x/.sfn", -1, 1 },                     /* not the reserved prefix */
    { "x/sfn-published/j.json", -1, 1 },
    { "mp4/J/.sfnx", -1, 1 },

    /* empty and absolute */
    { "", -1, 0 },
    { "/", -1, 0 },
    { "/etc/passwd", -1, 0 },
    { "a/", -1, 0 },
    { "a//b", -1, 0 },

    /* dot segments */
    { ".", -1, 0 },
    { "..", -1, 0 },
    { "../x", -1, 0 },
    { "a/../../x", -1, 0 },
    { "a/./b", -1, 0 },
    { "a/..", -1, 0 },

    /* reserved names: the publish marker, temporary files and folders */
    { ".sfn-published/x.json", -1, 0 },
    { ".sfn-published", -1, 0 },
    { "out/.sfn-published/x.json", -1, 0 },
    { ".sfn-upload/123", -1, 0 },
    { ".sfn-tmp-abc123", -1, 0 },
    { "mp4/.sfn-job-XyZ123/a.mp4", -1, 0 },
    { ".sfn-", -1, 0 },

    /* bytes no key holds */
    { "a\0b", 3, 0 },
    { "a\0", 2, 0 },
    { "a\nb", -1, 0 },
    { "a\rb", -1, 0 },
    { "a\tb", -1, 0 },
    { "\x1b[31m", -1, 0 },
    { "a\x7f", -1, 0 },
    { "a\\..\\b", -1, 0 },

    /* invalid UTF-8: lone continuation, cut sequence, overlong, surrogate */
    { "a\x80", -1, 0 },
    { "a\xc3", -1, 0 },
    { "\xc0\xaf", -1, 0 },
    { "\xe0\x80\xaf", -1, 0 },
    { "\xed\xa0\x80", -1, 0 },
    { "\xf4\x90\x80\x80", -1, 0 },
    { "\xff", -1, 0 },

    { NULL, 0, 0 }
};


static void
test_key_table(void **state)
{
    int                 len, valid, failed;
    const sfn_t_key_t  *c;

    failed = 0;

    for (c = key_cases; c->key; c++) {
        len = c->len < 0 ? (int) strlen(c->key) : c->len;
        valid = sfn_key_valid(c->key, len) != 0;

        if (valid != c->valid) {
            print_error("key \"%.*s\" (%d bytes): %s, expected %s\n", len,
                        c->key, len, valid ? "valid" : "invalid",
                        c->valid ? "valid" : "invalid");
            failed++;
        }
    }

    assert_int_equal(failed, 0);
}


/* lengths: 255-byte segments pass, 256 do not; 1024-byte keys pass */

static void
test_key_lengths(void **state)
{
    char  key[2048];

    memset(key, 'a', sizeof(key));

    assert_true(sfn_key_valid(key, 255));
    assert_false(sfn_key_valid(key, 256));

    /* 4 segments of 255 and one of 3: 1024 bytes */

    key[255] = '/';
    key[511] = '/';
    key[767] = '/';
    key[1023 - 3] = '/';

    assert_true(sfn_key_valid(key, SFN_KEY_MAX));
    assert_false(sfn_key_valid(key, SFN_KEY_MAX + 1));

    /* the length given is what counts, not a NUL after it */

    assert_true(sfn_key_valid("abc/def", 3));
    assert_false(sfn_key_valid("abc/def", 4));
    assert_false(sfn_key_valid(NULL, 0));
}


/* a quoted key carries no byte a log line or a JSON string refuses */

static void
test_key_quote(void **state)
{
    char  buf[1100], big[600];

    sfn_task_quote(buf, sizeof(buf), "a\nb\xff\\c", 6);
    assert_string_equal(buf, "a\\x0ab\\xff\\x5cc");

    sfn_task_quote(buf, sizeof(buf), "caf\xc3\xa9", 5);
    assert_string_equal(buf, "caf\xc3\xa9");

    sfn_task_quote(buf, sizeof(buf), "a\0b", 3);
    assert_string_equal(buf, "a\\x00b");

    memset(big, 'x', sizeof(big));
    sfn_task_quote(buf, sizeof(buf), big, sizeof(big));
    assert_int_equal(strlen(buf), 256 + 3);

    sfn_task_quote(buf, 5, "\n\n\n", 3);
    assert_string_equal(buf, "\\x0a");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_key_lengths),
        cmocka_unit_test(test_key_quote),
    };

    return cmocka_run_group_tests_name("sfn_key_valid", tests, NULL, NULL);
}
