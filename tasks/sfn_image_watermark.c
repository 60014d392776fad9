
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:image:watermark - the seed's watermark Lambda: each picture of
 * resizeResult.resizedImages (or the one "key") marked with a line of
 * text drawn by libavfilter's drawtext in a fontconfig font (DejaVu Sans
 * of fonts-dejavu-core unless "font" names another), at a corner or the
 * centre, with an opacity; written next to it as "<name>-watermarked".
 */


#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "sfn_image.h"


#define SFN_IMAGE_TEXT_MAX  256


typedef struct {
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
    char        *text, *font;
    const char  *p, *x, *y;

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

    x = strstr(m->position, "left") ? "%d"
        : strstr(m->position, "right") ? "w-tw-%d" : "(w-tw)/2";
    y = strncmp(m->position, "top", 3) == 0 ? "%d"
        : strncmp(m->position, "bottom", 6) == 0 ? "h-th-%d" : "(h-th)/2";

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
                 ":shadowx=%d:shadowy=%d:x=", font, text, fs, m->color,
                 m->opacity, m->opacity * 0.6, shadow, shadow);

    if (n > 0 && (size_t) n < size) {
        n += snprintf(buf + n, size - n, x, margin);
    }

    if (n > 0 && (size_t) n < size) {
        n += snprintf(buf + n, size - n, ":y=");
    }

    if (n > 0 && (size_t) n < size) {
        n += snprintf(buf + n, size - n, y, margin);
    }

    if (n > 0 && (size_t) n < size) {
        n += snprintf(buf + n, size - n, ",format=%s", pix_fmt);
    }

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
    int                        quality, w, h;
    char                       chain[2048], okey[SFN_KEY_MAX + 1], dim[32];
    cJSON                     *item;
    long long                  bytes;
    sfn_image_t                img;
    const sfn_image_format_t  *format;

    if (sfn_image_load(call, &img, bucket, key,
                       sfn_image_limit(call->input, "maxFileSize",
                                       SFN_IMAGE_MAX_FILE_SIZE),
                       sfn_image_limit(call->input, "maxPixels",
                                       SFN_IMAGE_MAX_PIXELS))
        != SFN_TASK_OK
        || sfn_image_output(call, call->input, img.format, &format,
                            &quality)
           != SFN_TASK_OK
        || sfn_image_mark_chain(call, mark, img.width, img.height,
                                sfn_image_pix_fmt(format,
                                                  sfn_image_has_alpha(&img)),
                                chain, sizeof(chain))
           != SFN_TASK_OK)
    {
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

    if (sfn_image_write(call, &img, chain, format, quality, bucket, okey,
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
    cJSON_AddStringToObject(item, "watermarkType", "text");
    cJSON_AddStringToObject(item, "watermarkText", mark->text);
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

    key = sfn_task_string(call->input, "key");

    if (key == NULL) {
        key = sfn_task_string(call->input, "s3Key");
    }

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

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "completed");
    list = cJSON_AddArrayToObject(out, "watermarkedImages");

    if (out == NULL || list == NULL) {
        cJSON_Delete(out);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
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

    call->output = out;

    return SFN_TASK_OK;

failed:

    cJSON_Delete(out);

    return SFN_TASK_FAILED;
}
