
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:image:validate - the seed's validation Lambda: what the file is,
 * read from the file itself, against the limits of the input.
 *
 * A file that cannot be read as a picture (empty, not an image, damaged,
 * truncated) or must not be (larger than maxFileSize, declaring more than
 * maxPixels) fails the task with ImageValidationError.  A picture that
 * decodes but breaks a rule of the input (formats, fileType, the minimum
 * and maximum sides) is "invalid", and validationDetails say which rule.
 */


#include <stdio.h>
#include <string.h>

#include <libavutil/pixdesc.h>

#include "sfn_image.h"


/* the seed's names: "sRGB" for colour pictures not marked otherwise */

static const char *
sfn_image_color_space(const AVFrame *frame)
{
    const AVPixFmtDescriptor  *d;

    d = av_pix_fmt_desc_get(frame->format);

    if (d && d->nb_components <= 2 && !(d->flags & AV_PIX_FMT_FLAG_PAL)) {
        return "Gray";
    }

    switch (frame->color_primaries) {

    case AVCOL_PRI_UNSPECIFIED:
    case AVCOL_PRI_BT709:
        return "sRGB";

    case AVCOL_PRI_BT2020:
        return "BT.2020";

    case AVCOL_PRI_SMPTE432:
        return "Display P3";

    default:
        return av_color_primaries_name(frame->color_primaries);
    }
}


static int
sfn_image_formats_allow(sfn_task_call_t *call, const cJSON *input,
    const sfn_image_format_t *format, int *allowed)
{
    const cJSON               *list, *item;
    const sfn_image_format_t  *f;

    *allowed = 1;

    list = cJSON_GetObjectItemCaseSensitive(input, "formats");

    if (list == NULL || cJSON_IsNull(list)) {
        return SFN_TASK_OK;
    }

    if (!cJSON_IsArray(list)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"formats\" must be an array of names");
    }

    *allowed = 0;

    cJSON_ArrayForEach(item, list) {
        f = cJSON_IsString(item) ? sfn_image_format_find(item->valuestring)
                                 : NULL;
        if (f == NULL) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"formats\" names JPEG, PNG or WebP");
        }

        if (f == format) {
            *allowed = 1;
        }
    }

    return SFN_TASK_OK;
}


int
sfn_image_validate(sfn_task_call_t *call)
{
    int                        w, h, allowed, dims, type;
    char                       buf[256];
    cJSON                     *out, *meta, *details, *errors;
    long long                  min_w, min_h, max_w, max_h;
    const char                *bucket, *key, *file_type;
    sfn_image_t                img;
    const AVPixFmtDescriptor  *d;
    const sfn_image_format_t  *declared;

    bucket = sfn_task_string(call->input, "bucket");
    key = sfn_image_input_key(call->input);

    if (sfn_task_opt_string(call, call->input, "fileType", &file_type)
        != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    if (sfn_image_limit(call, call->input, "minWidth", 1, &min_w)
        != SFN_TASK_OK
        || sfn_image_limit(call, call->input, "minHeight", 1, &min_h)
           != SFN_TASK_OK
        || sfn_image_limit(call, call->input, "maxWidth", SFN_IMAGE_MAX_SIDE,
                           &max_w)
           != SFN_TASK_OK
        || sfn_image_limit(call, call->input, "maxHeight",
                           SFN_IMAGE_MAX_SIDE, &max_h)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    if (sfn_image_load(call, &img, bucket, key, NULL) != SFN_TASK_OK) {
        sfn_image_free(&img);
        return SFN_TASK_FAILED;
    }

    if (sfn_image_formats_allow(call, call->input, img.format, &allowed)
        != SFN_TASK_OK)
    {
        sfn_image_free(&img);
        return SFN_TASK_FAILED;
    }

    declared = file_type ? sfn_image_format_find(file_type) : NULL;
    type = file_type == NULL || declared == img.format;

    w = img.width;
    h = img.height;
    dims = w >= min_w && h >= min_h && w <= max_w && h <= max_h;

    out = cJSON_CreateObject();
    if (out == NULL) {
        sfn_image_free(&img);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    cJSON_AddStringToObject(out, "result",
                            allowed && type && dims ? "valid" : "invalid");

    meta = cJSON_AddObjectToObject(out, "imageMetadata");
    cJSON_AddNumberToObject(meta, "width", w);
    cJSON_AddNumberToObject(meta, "height", h);
    cJSON_AddStringToObject(meta, "format", img.format->name);
    cJSON_AddStringToObject(meta, "colorSpace",
                            sfn_image_color_space(img.frame));

    cJSON_AddNumberToObject(meta, "orientation", img.orientation);

    d = av_pix_fmt_desc_get(img.frame->format);
    cJSON_AddStringToObject(meta, "pixelFormat", d ? d->name : "unknown");
    cJSON_AddNumberToObject(meta, "bitDepth", d ? d->comp[0].depth : 8);
    cJSON_AddBoolToObject(meta, "hasAlpha", sfn_image_has_alpha(&img));
    cJSON_AddBoolToObject(meta, "iccProfile",
        av_frame_get_side_data(img.frame, AV_FRAME_DATA_ICC_PROFILE)
        != NULL);
    cJSON_AddStringToObject(meta, "mimeType", img.format->mime);
    cJSON_AddNumberToObject(meta, "fileSize", (double) img.size);

    details = cJSON_AddObjectToObject(out, "validationDetails");
    cJSON_AddBoolToObject(details, "fileSizeValid", 1);
    cJSON_AddBoolToObject(details, "formatValid", allowed && type);
    cJSON_AddBoolToObject(details, "dimensionsValid", dims);

    if (!(allowed && type && dims)) {
        errors = cJSON_AddArrayToObject(out, "errors");

        if (!allowed) {
            snprintf(buf, sizeof(buf), "%s is not one of \"formats\"",
                     img.format->name);
            cJSON_AddItemToArray(errors, cJSON_CreateString(buf));
        }

        if (!type) {
            snprintf(buf, sizeof(buf), "the file is %s, not its fileType",
                     img.format->mime);
            cJSON_AddItemToArray(errors, cJSON_CreateString(buf));
        }

        if (!dims) {
            snprintf(buf, sizeof(buf),
                     "%dx%d is outside %lldx%lld to %lldx%lld", w, h,
                     min_w, min_h, max_w, max_h);
            cJSON_AddItemToArray(errors, cJSON_CreateString(buf));
        }
    }

    sfn_image_free(&img);

    call->output = out;

    return SFN_TASK_OK;
}
