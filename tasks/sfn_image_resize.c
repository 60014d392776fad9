
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:image:resize - the seed's resize Lambda: the picture once decoded,
 * then each named size scaled as RGB with a Lanczos filter, fitted in its box
 * with the aspect kept ("fit") or covering it and cropped ("fill"), and
 * written as "processed/<key less its first directory>-<size><ext>".
 */


#include <stdio.h>
#include <string.h>

#include "sfn_image.h"


static int
sfn_image_mode(sfn_task_call_t *call, const cJSON *input, int *fill,
    int *enlarge)
{
    const char    *mode;
    const cJSON   *e;

    *fill = 0;
    *enlarge = 0;

    if (sfn_task_opt_string(call, input, "fit", &mode) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    if (mode == NULL || strcmp(mode, "fit") == 0
        || strcmp(mode, "inside") == 0)
    {
        *fill = 0;

    } else if (strcmp(mode, "fill") == 0 || strcmp(mode, "cover") == 0) {
        *fill = 1;

    } else {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"fit\" is \"fit\" (aspect kept) or \"fill\" "
                             "(cropped)");
    }

    e = cJSON_GetObjectItemCaseSensitive(input, "enlarge");

    if (e && !cJSON_IsNull(e) && !cJSON_IsBool(e)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"enlarge\" is true or false");
    }

    *enlarge = cJSON_IsTrue(e);

    return SFN_TASK_OK;
}


int
sfn_image_resize(sfn_task_call_t *call)
{
    int                        n, i, fill, enlarge, quality, w, h, alpha;
    char                       chain[512], okey[SFN_KEY_MAX + 1], dim[32];
    char                       crop[64];
    cJSON                     *out, *list, *item;
    long long                  bytes;
    const char                *bucket, *key, *obucket, *prefix;
    sfn_image_t                img;
    sfn_image_fit_t            fit;
    sfn_image_scale_t          scale;
    sfn_image_size_t           sizes[SFN_IMAGE_SIZES_MAX];
    const sfn_image_format_t  *format;

    bucket = sfn_task_string(call->input, "bucket");
    key = sfn_image_input_key(call->input);

    if (sfn_task_opt_string(call, call->input, "outputBucket", &obucket)
        != SFN_TASK_OK
        || sfn_task_opt_string(call, call->input, "outputPrefix", &prefix)
           != SFN_TASK_OK
        || sfn_image_mode(call, call->input, &fill, &enlarge) != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    n = sfn_image_sizes(call, call->input, sizes, SFN_IMAGE_SIZES_MAX);
    if (n < 0) {
        return SFN_TASK_FAILED;
    }

    scale.sizes = sizes;
    scale.n = n;
    scale.fill = fill;
    scale.enlarge = enlarge;

    if (sfn_image_load(call, &img, bucket, key, &scale) != SFN_TASK_OK) {
        sfn_image_free(&img);
        return SFN_TASK_FAILED;
    }

    if (sfn_image_output(call, call->input, img.format, &format, &quality)
        != SFN_TASK_OK)
    {
        sfn_image_free(&img);
        return SFN_TASK_FAILED;
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "completed");
    list = cJSON_AddArrayToObject(out, "resizedImages");

    if (out == NULL || list == NULL) {
        cJSON_Delete(out);
        sfn_image_free(&img);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    obucket = obucket ? obucket : bucket;
    alpha = sfn_image_has_alpha(&img);

    for (i = 0; i < n; i++) {
        if (sfn_image_key(okey, sizeof(okey), key,
                          prefix ? prefix : "processed/", sizes[i].name,
                          format->ext)
            < 0)
        {
            sfn_task_quote(chain, sizeof(chain), prefix ? prefix : "",
                           prefix ? strlen(prefix) : 0);
            sfn_task_fail(call, "States.TaskFailed",
                          "the key of size \"%s\" under \"%s\" is not a "
                          "valid key", sizes[i].name, chain);
            goto failed;
        }

        sfn_image_fit(img.width, img.height, sizes[i].width,
                      sizes[i].height, fill, enlarge, &fit);

        crop[0] = '\0';

        if (fit.crop_w != img.width || fit.crop_h != img.height)
        {
            snprintf(crop, sizeof(crop), "crop=%d:%d,", fit.crop_w,
                     fit.crop_h);
        }

        /*
         * scaled as RGB, as libjpeg-based tools do: the chroma of a 4:2:0
         * picture is brought to full size first, and the result's chroma
         * comes from the scaled colours
         */

        snprintf(chain, sizeof(chain),
                 "format=%s,%sscale=w=%d:h=%d:flags=lanczos+accurate_rnd,"
                 "setsar=1,format=%s",
                 alpha ? "gbrap" : "gbrp", crop, fit.width, fit.height,
                 sfn_image_pix_fmt(format, alpha));

        if (sfn_image_write(call, &img, NULL, NULL, chain, format, quality,
                            obucket, okey, &bytes, &w, &h)
            != SFN_TASK_OK)
        {
            goto failed;
        }

        snprintf(dim, sizeof(dim), "%dx%d", w, h);

        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "size", sizes[i].name);
        cJSON_AddStringToObject(item, "dimensions", dim);
        cJSON_AddStringToObject(item, "s3Key", okey);
        cJSON_AddNumberToObject(item, "fileSize", (double) bytes);
        cJSON_AddStringToObject(item, "bucket", obucket);
        cJSON_AddNumberToObject(item, "width", w);
        cJSON_AddNumberToObject(item, "height", h);
        cJSON_AddStringToObject(item, "format", format->name);
    }

    sfn_image_free(&img);

    call->output = out;

    return SFN_TASK_OK;

failed:

    cJSON_Delete(out);
    sfn_image_free(&img);

    return SFN_TASK_FAILED;
}
