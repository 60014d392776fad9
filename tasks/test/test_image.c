
/*
 * Copyright (C) ngx_sfn authors
 *
 * The pure parts of the image tasks, with no files: fitting a picture in
 * a box, the sizes of an input, the keys of derived pictures, the formats
 * and the check that a file ends where its format says.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sfn_image.h"


typedef struct {
    int                   sw, sh, bw, bh, fill, enlarge;
    int                   crop_w, crop_h, width, height;
} sfn_t_fit_t;


static const sfn_t_fit_t  fit_cases[] = {

    /* rows: source, box, fill, enlarge; then the crop and the size */

    /* the seed's sizes for a 12 MP 4:3 and a 16:9 picture */
    { 4000, 3000, 800, 600, 0, 0, 4000, 3000, 800, 600 },
    { 4000, 3000, 1200, 900, 0, 0, 4000, 3000, 1200, 900 },
    { 1920, 1080, 800, 600, 0, 0, 1920, 1080, 800, 450 },
    { 1920, 1080, 1200, 900, 0, 0, 1920, 1080, 1200, 675 },

    /* portrait: the height limits */
    { 3000, 4000, 800, 600, 0, 0, 3000, 4000, 450, 600 },

    /* smaller than the box: kept, or enlarged when asked */
    { 640, 480, 800, 600, 0, 0, 640, 480, 640, 480 },
    { 640, 480, 1200, 900, 0, 1, 640, 480, 1200, 900 },
    { 640, 360, 1200, 900, 0, 1, 640, 360, 1200, 675 },

    /* rounding to the nearest pixel, never below one */
    { 1001, 3, 100, 100, 0, 0, 1001, 3, 100, 1 },
    { 3, 1001, 100, 100, 0, 0, 3, 1001, 1, 100 },
    { 1000, 333, 100, 100, 0, 0, 1000, 333, 100, 33 },
    { 1000, 335, 100, 100, 0, 0, 1000, 335, 100, 34 },

    /* fill: the centre with the box's aspect, scaled to the box */
    { 1920, 1080, 800, 600, 1, 0, 1440, 1080, 800, 600 },
    { 3000, 4000, 800, 600, 1, 0, 3000, 2250, 800, 600 },
    { 4000, 3000, 800, 600, 1, 0, 4000, 3000, 800, 600 },
    { 640, 480, 100, 100, 1, 0, 480, 480, 100, 100 },
    { 1001, 1000, 3, 1, 1, 0, 1001, 334, 3, 1 },

    /* fill without enlarging: the box shrinks to the picture */
    { 640, 480, 800, 600, 1, 0, 640, 480, 640, 480 },
    { 640, 480, 1000, 100, 1, 0, 640, 100, 640, 100 },
    { 640, 480, 800, 600, 1, 1, 640, 480, 800, 600 },

    /* extremes: nothing larger than the source or the box is made */
    { 1, 1, 16384, 16384, 0, 1, 1, 1, 16384, 16384 },
    { 65535, 1, 800, 600, 0, 0, 65535, 1, 800, 1 },
    { 65535, 1, 800, 600, 1, 1, 1, 1, 800, 600 },
    { 1, 65535, 800, 600, 1, 0, 1, 600, 1, 600 },
};


static void
test_image_fit(void **state)
{
    size_t                i;
    sfn_image_fit_t       fit;
    const sfn_t_fit_t    *c;

    (void) state;

    for (i = 0; i < sizeof(fit_cases) / sizeof(fit_cases[0]); i++) {
        c = &fit_cases[i];

        memset(&fit, 0, sizeof(fit));
        assert_int_equal(sfn_image_fit(c->sw, c->sh, c->bw, c->bh, c->fill,
                                       c->enlarge, &fit), 0);

        if (fit.width != c->width || fit.height != c->height
            || fit.crop_w != c->crop_w || fit.crop_h != c->crop_h)
        {
            fail_msg("case %zu: %dx%d in %dx%d %s: %dx%d crop %dx%d, "
                     "expected %dx%d crop %dx%d", i, c->sw, c->sh, c->bw,
                     c->bh, c->fill ? "fill" : "fit", fit.width, fit.height,
                     fit.crop_w, fit.crop_h, c->width, c->height, c->crop_w,
                     c->crop_h);
        }
    }

    assert_int_equal(sfn_image_fit(0, 10, 10, 10, 0, 0, &fit), -1);
    assert_int_equal(sfn_image_fit(10, 10, 10, -1, 1, 0, &fit), -1);
}


/* { "sizes" as JSON (` for "), expected "name WxH,..." or "!" cause } */

static const char  *sizes_cases[][2] = {
    { "{}", "small 800x600,medium 1200x900" },
    { "{`sizes`:null}", "small 800x600,medium 1200x900" },
    { "{`sizes`:[{`name`:`t`,`width`:64,`height`:48}]}", "t 64x48" },
    { "{`sizes`:{`a`:`10x20`,`b`:{`width`:30,`height`:40}}}",
      "a 10x20,b 30x40" },
    { "{`sizes`:{`big`:`16384x16384`}}", "big 16384x16384" },

    { "{`sizes`:[]}", "!is empty" },
    { "{`sizes`:{}}", "!is empty" },
    { "{`sizes`:`800x600`}", "!an array or an object" },
    { "{`sizes`:[{`width`:1,`height`:1}]}", "!needs a \"name\"" },
    { "{`sizes`:{`a`:`0x10`}}", "!width and a height" },
    { "{`sizes`:{`a`:`10x`}}", "!width and a height" },
    { "{`sizes`:{`a`:`10x10x`}}", "!width and a height" },
    { "{`sizes`:{`a`:`-10x10`}}", "!width and a height" },
    { "{`sizes`:{`a`:`16385x10`}}", "!width and a height" },
    { "{`sizes`:{`a`:{`width`:10.5,`height`:10}}}", "!width and a height" },
    { "{`sizes`:{`a`:{`width`:`10`,`height`:10}}}", "!width and a height" },
    { "{`sizes`:{`a`:true}}", "!width and a height" },
    { "{`sizes`:{`a/b`:`1x1`}}", "!key segment" },
    { "{`sizes`:{`..`:`1x1`}}", "!key segment" },
    { "{`sizes`:{``:`1x1`}}", "!key segment" },
    { "{`sizes`:{`a\\u0001`:`1x1`}}", "!key segment" },
    { "{`sizes`:[{`name`:`a`,`width`:1,`height`:1},"
      "{`name`:`a`,`width`:2,`height`:2}]}", "!named twice" },
    { "{`sizes`:{`a1`:`1x1`,`a2`:`1x1`,`a3`:`1x1`,`a4`:`1x1`,`a5`:`1x1`,"
      "`a6`:`1x1`,`a7`:`1x1`,`a8`:`1x1`,`a9`:`1x1`,`b1`:`1x1`,`b2`:`1x1`,"
      "`b3`:`1x1`,`b4`:`1x1`,`b5`:`1x1`,`b6`:`1x1`,`b7`:`1x1`,`b8`:`1x1`}}",
      "!more than 16" },
};


static void
test_image_sizes(void **state)
{
    int                i, n, k;
    char               json[1024], got[2112], *p;
    cJSON             *input;
    size_t             c;
    sfn_task_call_t    call;
    sfn_image_size_t   sizes[SFN_IMAGE_SIZES_MAX];

    (void) state;

    for (c = 0; c < sizeof(sizes_cases) / sizeof(sizes_cases[0]); c++) {
        snprintf(json, sizeof(json), "%s", sizes_cases[c][0]);

        for (p = json; *p; p++) {
            if (*p == '`') {
                *p = '"';
            }
        }

        input = cJSON_Parse(json);
        assert_non_null(input);

        memset(&call, 0, sizeof(call));
        n = sfn_image_sizes(&call, input, sizes, SFN_IMAGE_SIZES_MAX);
        cJSON_Delete(input);

        if (n < 0) {
            snprintf(got, sizeof(got), "!%s", call.cause);

        } else {
            got[0] = '\0';

            for (i = 0, k = 0; i < n; i++) {
                k += snprintf(got + k, sizeof(got) - k, "%s%s %dx%d",
                              i ? "," : "", sizes[i].name, sizes[i].width,
                              sizes[i].height);
            }
        }

        if (sizes_cases[c][1][0] == '!') {
            if (n >= 0 || strstr(got, sizes_cases[c][1] + 1) == NULL) {
                fail_msg("%s: got \"%s\", expected a failure with \"%s\"",
                         sizes_cases[c][0], got, sizes_cases[c][1] + 1);
            }

            continue;
        }

        if (strcmp(got, sizes_cases[c][1]) != 0) {
            fail_msg("%s: got \"%s\", expected \"%s\"", sizes_cases[c][0],
                     got, sizes_cases[c][1]);
        }
    }
}


/* { key, prefix, suffix, ext, expected or NULL } */

static const char  *key_cases[][5] = {
    { "uploads/user-id/image-id.jpg", "processed/", "small", ".jpg",
      "processed/user-id/image-id-small.jpg" },
    { "uploads/image-id.jpg", "processed/", "small", ".jpg",
      "processed/image-id-small.jpg" },
    { "image-id.jpg", "processed/", "medium", ".webp",
      "processed/image-id-medium.webp" },
    { "a/b/c/d.e.png", "out/", "s", ".png", "out/b/c/d.e-s.png" },
    { "a/noext", "", "s", ".jpg", "noext-s.jpg" },
    { "a/.hidden", "p/", "s", ".jpg", "p/.hidden-s.jpg" },
    { "processed/user-id/image-id-small.jpg", NULL, "watermarked", ".jpg",
      "processed/user-id/image-id-small-watermarked.jpg" },
    { "x.png", NULL, "watermarked", ".png", "x-watermarked.png" },

    /* what would not be a key */
    { "uploads/x.jpg", "/abs/", "s", ".jpg", NULL },
    { "uploads/x.jpg", "../", "s", ".jpg", NULL },
    { "uploads/x.jpg", ".sfn-published/", "s", ".jpg", NULL },
    { "uploads/x.jpg", "a//", "s", ".jpg", NULL },
    { "uploads/x.jpg", "p\x01/", "s", ".jpg", NULL },
};


static void
test_image_key(void **state)
{
    int     n;
    char    buf[SFN_KEY_MAX + 1];
    char    longkey[2048];
    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        n = sfn_image_key(buf, sizeof(buf), key_cases[i][0],
                          key_cases[i][1], key_cases[i][2], key_cases[i][3]);

        if (key_cases[i][4] == NULL) {
            if (n >= 0) {
                fail_msg("%s: got \"%s\", expected none", key_cases[i][0],
                         buf);
            }

            continue;
        }

        if (n < 0 || strcmp(buf, key_cases[i][4]) != 0) {
            fail_msg("%s: got \"%s\", expected \"%s\"", key_cases[i][0],
                     n < 0 ? "(none)" : buf, key_cases[i][4]);
        }
    }

    /* a key that grows past SFN_KEY_MAX is refused, not cut */

    memset(longkey, 'k', SFN_KEY_MAX - 4);
    memcpy(longkey + SFN_KEY_MAX - 4, ".jpg", 5);

    for (i = 200; i < SFN_KEY_MAX - 4; i += 200) {
        longkey[i] = '/';
    }

    assert_true(sfn_key_valid(longkey, strlen(longkey)));
    assert_int_equal(sfn_image_key(buf, sizeof(buf), longkey, NULL,
                                   "watermarked", ".jpg"), -1);
    assert_int_equal(sfn_image_key(buf, 8, "a.jpg", NULL, "small", ".jpg"),
                     -1);
}


static void
test_image_formats(void **state)
{
    const sfn_image_format_t  *jpeg, *png, *webp;

    (void) state;

    jpeg = sfn_image_format_find("JPEG");
    png = sfn_image_format_find("png");
    webp = sfn_image_format_find("WebP");

    assert_non_null(jpeg);
    assert_non_null(png);
    assert_non_null(webp);

    assert_ptr_equal(sfn_image_format_find("jpg"), jpeg);
    assert_ptr_equal(sfn_image_format_find("image/jpeg"), jpeg);
    assert_ptr_equal(sfn_image_format_find("image/jpg"), jpeg);
    assert_ptr_equal(sfn_image_format_find(".jpg"), jpeg);
    assert_ptr_equal(sfn_image_format_find("image/png"), png);
    assert_ptr_equal(sfn_image_format_find("image/webp"), webp);

    assert_null(sfn_image_format_find("gif"));
    assert_null(sfn_image_format_find("image/"));
    assert_null(sfn_image_format_find(""));
    assert_null(sfn_image_format_find(NULL));

    assert_string_equal(sfn_image_pix_fmt(jpeg, 1), "yuvj420p");
    assert_string_equal(sfn_image_pix_fmt(png, 1), "rgba");
    assert_string_equal(sfn_image_pix_fmt(png, 0), "rgb24");
    assert_string_equal(sfn_image_pix_fmt(webp, 1), "yuva420p");
}


static void
test_image_complete(void **state)
{
    const sfn_image_format_t  *jpeg, *png, *webp;

    static const unsigned char  j1[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0,
                                         0xff, 0xd9 };
    static const unsigned char  j2[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0,
                                         0xff, 0xd9, 'e', 'x', 't', 'r',
                                         'a' };
    static const unsigned char  j3[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0,
                                         0xff };
    static const unsigned char  p1[] = "\x89PNG\r\n\x1a\n"
                                       "\0\0\0\0IEND\xae\x42\x60\x82";
    static const unsigned char  w1[] = "RIFF\x04\0\0\0WEBP";
    static const unsigned char  w2[] = "RIFF\x10\0\0\0WEBPVP8 ";

    (void) state;

    jpeg = sfn_image_format_find("jpeg");
    png = sfn_image_format_find("png");
    webp = sfn_image_format_find("webp");

    assert_true(sfn_image_complete(jpeg, j1, sizeof(j1)));
    assert_true(sfn_image_complete(jpeg, j2, sizeof(j2)));
    assert_false(sfn_image_complete(jpeg, j3, sizeof(j3)));
    assert_false(sfn_image_complete(jpeg, j1, 0));

    assert_true(sfn_image_complete(png, p1, sizeof(p1) - 1));
    assert_false(sfn_image_complete(png, p1, sizeof(p1) - 2));
    assert_false(sfn_image_complete(png, p1, 8));

    assert_true(sfn_image_complete(webp, w1, sizeof(w1) - 1));
    assert_false(sfn_image_complete(webp, w2, sizeof(w2) - 1));
    assert_false(sfn_image_complete(webp, w1, 8));
}


/* the matrices libavcodec's JPEG decoder gives for EXIF's 8 orientations */

static void
test_image_orientation(void **state)
{
    int      o;
    int32_t  m[9];

    static const int32_t  rows[8][4] = {
        { 65536, 0, 0, 65536 }, { -65536, 0, 0, 65536 },
        { -65536, 0, 0, -65536 }, { 65536, 0, 0, -65536 },
        { 0, 65536, 65536, 0 }, { 0, 65536, -65536, 0 },
        { 0, -65536, -65536, 0 }, { 0, -65536, 65536, 0 }
    };

    (void) state;

    for (o = 1; o <= 8; o++) {
        memset(m, 0, sizeof(m));
        m[0] = rows[o - 1][0];
        m[1] = rows[o - 1][1];
        m[3] = rows[o - 1][2];
        m[4] = rows[o - 1][3];
        m[8] = 1 << 30;

        assert_int_equal(sfn_image_orientation(m), o);
    }

    assert_int_equal(sfn_image_orientation(NULL), 1);

    /* 45 degrees is no orientation a picture can have: as stored */

    memset(m, 0, sizeof(m));
    m[0] = 46341;
    m[1] = 46341;
    m[3] = -46341;
    m[4] = 46341;
    assert_int_equal(sfn_image_orientation(m), 1);

    memset(m, 0, sizeof(m));
    assert_int_equal(sfn_image_orientation(m), 1);

    assert_string_equal(sfn_image_orient_chain(1), "");
    assert_string_equal(sfn_image_orient_chain(6), "transpose=clock,");
    assert_string_equal(sfn_image_orient_chain(0), "");
    assert_string_equal(sfn_image_orient_chain(9), "");
}


static void
test_image_jpeg_size(void **state)
{
    int  w, h, base;

    /* SOI, APP0 (4 bytes), fill, SOF0 declaring 3000 x 4000 */
    static const unsigned char  sof0[] = {
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46, 0xff, 0xff,
        0xc0, 0x00, 0x11, 0x08, 0x0b, 0xb8, 0x0f, 0xa0, 0x03
    };
    static const unsigned char  sof2[] = {
        0xff, 0xd8, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x20
    };
    static const unsigned char  sos[] = {
        0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f
    };
    static const unsigned char  cut[] = {
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x40, 0x4a, 0x46
    };
    static const unsigned char  bad[] = {
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01, 0x4a, 0x46
    };

    (void) state;

    assert_int_equal(sfn_image_jpeg_size(sof0, sizeof(sof0), &w, &h, &base),
                     0);
    assert_int_equal(w, 4000);
    assert_int_equal(h, 3000);
    assert_true(base);

    assert_int_equal(sfn_image_jpeg_size(sof2, sizeof(sof2), &w, &h, &base),
                     0);
    assert_int_equal(w, 32);
    assert_int_equal(h, 16);
    assert_false(base);

    assert_int_equal(sfn_image_jpeg_size(sos, sizeof(sos), &w, &h, &base),
                     -1);
    assert_int_equal(sfn_image_jpeg_size(cut, sizeof(cut), &w, &h, &base),
                     -1);
    assert_int_equal(sfn_image_jpeg_size(bad, sizeof(bad), &w, &h, &base),
                     -1);
    assert_int_equal(sfn_image_jpeg_size(sof0, 12, &w, &h, &base), -1);
    assert_int_equal(sfn_image_jpeg_size(sof0 + 2, 10, &w, &h, &base), -1);
}


static void
test_image_lowres(void **state)
{
    sfn_image_scale_t  s;

    static const sfn_image_size_t  seed[] = {
        { "small", 800, 600 }, { "medium", 1200, 900 }
    };
    static const sfn_image_size_t  thumb[] = { { "t", 100, 100 } };

    (void) state;

    s.sizes = seed;
    s.n = 2;
    s.fill = 0;
    s.enlarge = 0;

    /* 12 MP to 1200x900: 2000x1500 is enough, 1000x750 is not */
    assert_int_equal(sfn_image_lowres(4000, 3000, &s), 1);

    /* on its side, the same */
    assert_int_equal(sfn_image_lowres(3000, 4000, &s), 1);

    /* 1920x1080 into 1200x900 needs 1200x675: no halving is enough */
    assert_int_equal(sfn_image_lowres(1920, 1080, &s), 0);
    assert_int_equal(sfn_image_lowres(640, 480, &s), 0);

    /* large pictures stop at an eighth */
    assert_int_equal(sfn_image_lowres(16000, 12000, &s), 3);

    s.sizes = thumb;
    s.n = 1;
    assert_int_equal(sfn_image_lowres(4000, 3000, &s), 3);
    assert_int_equal(sfn_image_lowres(400, 300, &s), 2);

    /* fill: the kept part must still cover the box */
    s.fill = 1;
    assert_int_equal(sfn_image_lowres(400, 300, &s), 1);
    assert_int_equal(sfn_image_lowres(199, 4000, &s), 1);
    assert_int_equal(sfn_image_lowres(197, 4000, &s), 0);

    /* enlarging never decodes smaller */
    s.enlarge = 1;
    assert_int_equal(sfn_image_lowres(150, 150, &s), 0);

    assert_int_equal(sfn_image_lowres(4000, 3000, NULL), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_image_fit),
        cmocka_unit_test(test_image_sizes),
        cmocka_unit_test(test_image_key),
        cmocka_unit_test(test_image_formats),
        cmocka_unit_test(test_image_complete),
        cmocka_unit_test(test_image_orientation),
        cmocka_unit_test(test_image_jpeg_size),
        cmocka_unit_test(test_image_lowres),
    };

    return cmocka_run_group_tests_name("sfn_image", tests, NULL, NULL);
}
