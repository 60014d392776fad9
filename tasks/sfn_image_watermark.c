
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:image:watermark - the seed's watermark Lambda: each picture of
 * resizeResult.resizedImages (or the one "key") marked with a line of
 * text drawn by libavfilter's drawtext in a fontconfig font (DejaVu Sans
 * of fonts-dejavu-core unless "font" names another), or with a picture
 * ("watermarkImage", a JPEG, PNG or WebP, its alpha kept) overlaid, at a
 * corner or the centre, with an opacity; written next to it as
 * "<name>-watermarked".
 */


#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "sfn_image.h"


#define SFN_IMAGE_TEXT_MAX  256


typedef struct {
    sfn_image_t           image;        /* a picture mark, or none */
    int                   has_image;
    const char           *image_key;
    double                scale;        /* of the picture, for the mark */
    const char           *text;
    const char           *font;
    const char           *color;
    const char           *position;
    double                opacity;
    int                   font_size;    /* 0: from the picture */
} sfn_image_mark_t;


static const char  *sfn_image_positions[] = {
    "bottom-right", "bottom-left", "top-right", "top-left", "center", NULL
};


/* a value in a filter's option list, inside a filter graph description */

static char *
sfn_image_escape(const char *s)
{
    char  *opt, *graph;

    opt = NULL;
    graph = NULL;

    if (av_escape(&opt, s, "':\\", AV_ESCAPE_MODE_BACKSLASH, 0) < 0) {
        return NULL;
    }

    if (av_escape(&graph, opt, "'\\[],;", AV_ESCAPE_MODE_BACKSLASH, 0)
        < 0)
    {
        graph = NULL;
    }

    av_free(opt);

    return graph;
}


static int
sfn_image_mark_parse(sfn_task_call_t *call, const cJSON *input,
    sfn_image_mark_t *m)
{
    int            i;
    const char    *p;
    const cJSON   *item;

    if (sfn_task_opt_string(call, input, "watermarkText", &m->text)
        != SFN_TASK_OK
        || sfn_task_opt_string(call, input, "font", &m->font) != SFN_TASK_OK
        || sfn_task_opt_string(call, input, "color", &m->color)
           != SFN_TASK_OK
        || sfn_task_opt_string(call, input, "position", &m->position)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    m->text = m->text ? m->text : "Processed by Image Platform";
    m->font = m->font ? m->font : "DejaVu Sans";
    m->color = m->color ? m->color : "white";
    m->position = m->position ? m->position : "bottom-right";

    if (m->text[0] == '\0' || strlen(m->text) > SFN_IMAGE_TEXT_MAX) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"watermarkText\" is 1 to %d bytes",
                             SFN_IMAGE_TEXT_MAX);
    }

    if (!sfn_task_text_valid(m->text, strlen(m->text))) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"watermarkText\" is not UTF-8 without "
                             "control characters");
    }

    if (m->font[0] == '\0' || strlen(m->font) > 128
        || !sfn_task_text_valid(m->font, strlen(m->font)))
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"font\" is a fontconfig name of 1 to 128 "
                             "bytes");
    }

    for (p = m->color; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '#'))
        {
            break;
        }
    }

    if (*p || m->color[0] == '\0' || p - m->color > 32) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"color\" is a colour name or #RRGGBB");
    }

    for (i = 0; sfn_image_positions[i]; i++) {
        if (strcmp(m->position, sfn_image_positions[i]) == 0) {
            break;
        }
    }

    if (sfn_image_positions[i] == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"position\" is bottom-right, bottom-left, "
                             "top-right, top-left or center");
    }

    item = cJSON_GetObjectItemCaseSensitive(input, "opacity");
    m->opacity = 0.5;

    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0)
            || item->valuedouble > 1)
        {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"opacity\" is a number of 0 to 1");
        }

        m->opacity = item->valuedouble;
    }

    item = cJSON_GetObjectItemCaseSensitive(input, "fontSize");
    m->font_size = 0;

    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsNumber(item) || item->valuedouble < 4
            || item->valuedouble > 1000)
        {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"fontSize\" is a number of 4 to 1000");
        }

        m->font_size = (int) item->valuedouble;
    }

    item = cJSON_GetObjectItemCaseSensitive(input, "watermarkScale");
    m->scale = 0.25;

    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble > 0)
            || item->valuedouble > 1)
        {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"watermarkScale\" is a number above 0, "
                                 "at most 1");
        }

        m->scale = item->valuedouble;
    }

    return SFN_TASK_OK;
}


/*
 * "watermarkImage": a key, or {"bucket", "key"}, in the input's bucket
 * unless it names another; read with the limits of the pictures.
 */

static int
sfn_image_mark_load(sfn_task_call_t *call, const cJSON *input,
    const char *bucket, sfn_image_mark_t *m)
{
    const char    *key, *b;
    const cJSON   *item;

    item = cJSON_GetObjectItemCaseSensitive(input, "watermarkImage");

    m->has_image = 0;

    if (item == NULL || cJSON_IsNull(item)) {
        return SFN_TASK_OK;
    }

    if (cJSON_GetObjectItemCaseSensitive(input, "watermarkText")) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"watermarkText\" and \"watermarkImage\" "
                             "exclude each other");
    }

    if (cJSON_IsString(item)) {
        key = item->valuestring;
        b = bucket;

    } else if (cJSON_IsObject(item)) {
        key = sfn_image_input_key(item);
        b = sfn_task_string(item, "bucket");
        b = b ? b : bucket;

    } else {
        key = NULL;
        b = NULL;
    }

    if (key == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"watermarkImage\" is a key or "
                             "{\"bucket\", \"key\"}");
    }

    if (sfn_image_load(call, &m->image, b, key, NULL) != SFN_TASK_OK) {
        sfn_image_free(&m->image);
        return SFN_TASK_FAILED;
    }

    m->has_image = 1;
    m->image_key = key;

    return SFN_TASK_OK;
}


/*
 * Where the mark goes: x and y as libavfilter expressions of the sizes of
 * the picture (W, H) and of the mark (w, h), named as the filter names
 * them, a margin from the edges.
 */

static void
sfn_image_mark_xy(const sfn_image_mark_t *m, const char *W, const char *w,
    const char *H, const char *h, int margin, char *x, char *y, size_t size)
{
    if (strstr(m->position, "left")) {
        snprintf(x, size, "%d", margin);

    } else if (strstr(m->position, "right")) {
        snprintf(x, size, "%s-%s-%d", W, w, margin);

    } else {
        snprintf(x, size, "(%s-%s)/2", W, w);
    }

    if (strncmp(m->position, "top", 3) == 0) {
        snprintf(y, size, "%d", margin);

    } else if (strncmp(m->position, "bottom", 6) == 0) {
        snprintf(y, size, "%s-%s-%d", H, h, margin);

    } else {
        snprintf(y, size, "(%s-%s)/2", H, h);
    }
}


/*
 * The overlay of a picture mark on a picture of w x h: the mark fitted in
 * watermarkScale of the picture, its alpha times the opacity.
 */

static int
sfn_image_overlay_chain(sfn_task_call_t *call, const sfn_image_mark_t *m,
    int w, int h, const char *pix_fmt, char *mark_chain, char *buf,
    size_t size)
{
    int              n, bw, bh, margin;
    char             x[32], y[32];
    sfn_image_fit_t  fit;

    margin = h / 40 > 4 ? h / 40 : 4;

    bw = (int) (w * m->scale + 0.5);
    bh = (int) (h * m->scale + 0.5);

    sfn_image_fit(m->image.width, m->image.height, bw < 1 ? 1 : bw,
                  bh < 1 ? 1 : bh, 0, 1, &fit);

    snprintf(mark_chain, size,
             "format=rgba,scale=w=%d:h=%d:flags=lanczos+accurate_rnd,"
             "colorchannelmixer=aa=%.3f[m]", fit.width, fit.height,
             m->opacity);

    sfn_image_mark_xy(m, "W", "w", "H", "h", margin, x, y, sizeof(x));

    n = snprintf(buf, size,
                 "[base][m]overlay=x=%s:y=%s:format=auto,setsar=1,format=%s",
                 x, y, pix_fmt);

    if (n < 0 || (size_t) n >= size) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the watermark is too long");
    }

    return SFN_TASK_OK;
}


/*
 * The drawtext chain for a picture of w x h.  Unless given, the size is a
 * twentieth of the height, less when the line would not fit the width
 * (DejaVu Sans advances about 0.6 em a character).
 */

static int
sfn_image_mark_chain(sfn_task_call_t *call, const sfn_image_mark_t *m,
    int w, int h, const char *pix_fmt, char *buf, size_t size)
{
    int          n, fs, margin, chars, shadow;
    char        *text, *font, x[32], y[32];
    const char  *p;

    margin = h / 40 > 4 ? h / 40 : 4;

    for (chars = 0, p = m->text; *p; p++) {
        chars += ((unsigned char) *p & 0xc0) != 0x80;
    }

    fs = m->font_size;

    if (fs == 0) {
        fs = h / 20;

        if (fs * chars * 6 / 10 > w - 2 * margin) {
            fs = (w - 2 * margin) * 10 / (chars * 6);
        }

        fs = fs < 8 ? 8 : fs;
    }

    shadow = fs / 24 > 1 ? fs / 24 : 1;

    sfn_image_mark_xy(m, "w", "tw", "h", "th", margin, x, y, sizeof(x));

    text = sfn_image_escape(m->text);
    font = sfn_image_escape(m->font);

    if (text == NULL || font == NULL) {
        av_free(text);
        av_free(font);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    n = snprintf(buf, size,
                 "drawtext=font=%s:text=%s:expansion=none:fontsize=%d"
                 ":fontcolor=%s@%.3f:shadowcolor=black@%.3f"
                 ":shadowx=%d:shadowy=%d:x=%s:y=%s,format=%s", font, text,
                 fs, m->color, m->opacity, m->opacity * 0.6, shadow, shadow,
                 x, y, pix_fmt);

    av_free(text);
    av_free(font);

    if (n < 0 || (size_t) n >= size) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the watermark is too long");
    }

    return SFN_TASK_OK;
}


static int
sfn_image_mark_one(sfn_task_call_t *call, const sfn_image_mark_t *mark,
    const char *bucket, const char *key, const cJSON *size, cJSON *list)
{
    int                        rc, quality, w, h;
    char                       chain[2048], mark_chain[256] = "", dim[32];
    char                       okey[SFN_KEY_MAX + 1];
    cJSON                     *item;
    long long                  bytes;
    const char                *pix_fmt;
    sfn_image_t                img;
    const sfn_image_format_t  *format;

    if (sfn_image_load(call, &img, bucket, key, NULL) != SFN_TASK_OK
        || sfn_image_output(call, call->input, img.format, &format,
                            &quality)
           != SFN_TASK_OK)
    {
        sfn_image_free(&img);
        return SFN_TASK_FAILED;
    }

    pix_fmt = sfn_image_pix_fmt(format, sfn_image_has_alpha(&img));

    rc = mark->has_image
         ? sfn_image_overlay_chain(call, mark, img.width, img.height, pix_fmt,
                                   mark_chain, chain, sizeof(chain))
         : sfn_image_mark_chain(call, mark, img.width, img.height, pix_fmt,
                                chain, sizeof(chain));

    if (rc != SFN_TASK_OK) {
        sfn_image_free(&img);
        return SFN_TASK_FAILED;
    }

    if (sfn_image_key(okey, sizeof(okey), key, NULL, "watermarked",
                      format->ext)
        < 0)
    {
        sfn_image_free(&img);
        return sfn_task_fail(call, "States.TaskFailed",
                             "the watermarked key of a picture is not a "
                             "valid key");
    }

    if (sfn_image_write(call, &img, mark->has_image ? &mark->image : NULL,
                        mark_chain, chain, format, quality, bucket, okey,
                        &bytes, &w, &h)
        != SFN_TASK_OK)
    {
        sfn_image_free(&img);
        return SFN_TASK_FAILED;
    }

    sfn_image_free(&img);

    snprintf(dim, sizeof(dim), "%dx%d", w, h);

    item = cJSON_CreateObject();
    cJSON_AddItemToArray(list, item);

    if (cJSON_IsString(size)) {
        cJSON_AddStringToObject(item, "size", size->valuestring);
    }

    cJSON_AddStringToObject(item, "s3Key", okey);
    if (mark->has_image) {
        cJSON_AddStringToObject(item, "watermarkType", "image");
        cJSON_AddStringToObject(item, "watermarkImage", mark->image_key);

    } else {
        cJSON_AddStringToObject(item, "watermarkType", "text");
        cJSON_AddStringToObject(item, "watermarkText", mark->text);
    }

    cJSON_AddStringToObject(item, "dimensions", dim);
    cJSON_AddNumberToObject(item, "fileSize", (double) bytes);
    cJSON_AddStringToObject(item, "bucket", bucket);

    return SFN_TASK_OK;
}


int
sfn_image_watermark(sfn_task_call_t *call)
{
    cJSON             *out, *list;
    const char        *bucket, *key, *ibucket;
    const cJSON       *images, *item, *k, *b;
    sfn_image_mark_t   mark;

    if (sfn_image_mark_parse(call, call->input, &mark) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    bucket = sfn_task_string(call->input, "bucket");

    images = cJSON_GetObjectItemCaseSensitive(
                 cJSON_GetObjectItemCaseSensitive(call->input,
                                                  "resizeResult"),
                 "resizedImages");

    key = sfn_image_input_key(call->input);

    if (images == NULL && key == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"resizeResult.resizedImages\" or \"key\" is "
                             "required");
    }

    if (images && (!cJSON_IsArray(images)
                   || cJSON_GetArraySize(images) > SFN_IMAGE_SIZES_MAX))
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"resizeResult.resizedImages\" is an array of "
                             "at most %d pictures", SFN_IMAGE_SIZES_MAX);
    }

    if (sfn_image_mark_load(call, call->input, bucket, &mark)
        != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "completed");
    list = cJSON_AddArrayToObject(out, "watermarkedImages");

    if (out == NULL || list == NULL) {
        sfn_task_fail(call, "States.TaskFailed", "out of memory");
        goto failed;
    }

    if (images == NULL) {
        if (sfn_image_mark_one(call, &mark, bucket, key, NULL, list)
            != SFN_TASK_OK)
        {
            goto failed;
        }
    }

    cJSON_ArrayForEach(item, images) {
        k = cJSON_GetObjectItemCaseSensitive(item, "s3Key");
        b = cJSON_GetObjectItemCaseSensitive(item, "bucket");

        if (!cJSON_IsString(k)) {
            sfn_task_fail(call, "States.TaskFailed",
                          "each of \"resizeResult.resizedImages\" needs an "
                          "\"s3Key\"");
            goto failed;
        }

        ibucket = cJSON_IsString(b) ? b->valuestring : bucket;

        if (sfn_image_mark_one(call, &mark, ibucket, k->valuestring,
                               cJSON_GetObjectItemCaseSensitive(item, "size"),
                               list)
            != SFN_TASK_OK)
        {
            goto failed;
        }
    }

    if (mark.has_image) {
        sfn_image_free(&mark.image);
    }

    call->output = out;

    return SFN_TASK_OK;

failed:

    if (mark.has_image) {
        sfn_image_free(&mark.image);
    }

    cJSON_Delete(out);

    return SFN_TASK_FAILED;
}
