
/*
 * Copyright (C) ngx_sfn authors
 *
 * Internals shared by the image tasks (sfn_image_*.c): still JPEG, PNG
 * and WebP pictures read, checked and decoded in memory, scaled and
 * marked through libavfilter, encoded and written into a bucket.  No
 * nginx headers; per-call state lives in what the caller passes.
 */

#ifndef _SFN_IMAGE_H_INCLUDED_
#define _SFN_IMAGE_H_INCLUDED_


#include <stddef.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>

#include "sfn_task.h"


#define SFN_IMAGE_ERROR           "ImageValidationError"

/* the limits when the input names none */
#define SFN_IMAGE_MAX_FILE_SIZE   (50LL * 1024 * 1024)
#define SFN_IMAGE_MAX_PIXELS      (50LL * 1000 * 1000)
#define SFN_IMAGE_MAX_SIDE        16384

#define SFN_IMAGE_SIZES_MAX       16
#define SFN_IMAGE_NAME_MAX        64


typedef struct {
    const char           *name;         /* "JPEG", as the seed writes it */
    const char           *demuxer;      /* the image2 pipe demuxer */
    const char           *mime;
    const char           *ext;          /* of keys written */
    const char           *encoder;
    enum AVCodecID        codec;
} sfn_image_format_t;


/* a decoded picture and what its file said */
typedef struct {
    AVCodecContext             *dec;    /* opened; its parameters read */
    AVFrame                    *frame;
    const sfn_image_format_t   *format;
    long long                   size;   /* bytes of the file */
    int                         orientation;    /* EXIF's, 1..8 */
    int                         width;  /* as displayed, orientation */
    int                         height; /* applied */
} sfn_image_t;


/* what a picture of sw x sh becomes in a box */
typedef struct {
    int                   crop_w;       /* the centre of the picture kept */
    int                   crop_h;
    int                   width;        /* then scaled to */
    int                   height;
} sfn_image_fit_t;


typedef struct {
    char                  name[SFN_IMAGE_NAME_MAX + 1];
    int                   width;
    int                   height;
} sfn_image_size_t;


/* the sizes a picture is to be scaled to, for a JPEG decoded smaller */
typedef struct {
    const sfn_image_size_t     *sizes;
    int                         n;
    int                         fill;
    int                         enlarge;
} sfn_image_scale_t;


/* "jpeg", "jpg", "JPEG", "png", "webp", "image/png" ...; NULL if none */
const sfn_image_format_t *sfn_image_format_find(const char *name);

/*
 * Reads bucket/key (at most the input's "maxFileSize" bytes, 50 MB unless
 * given), recognises it by its content with the image2 pipe demuxers'
 * probes, checks it is complete and decodes it with no more than the
 * input's "maxPixels" (50 M unless given).  Any failure fails the call
 * with SFN_IMAGE_ERROR and a cause naming the key.  With a scale, a
 * baseline JPEG is decoded at 1/2, 1/4 or 1/8 of its size (its DCT
 * scaled) when every size still has all the pixels it needs.
 */
int sfn_image_load(sfn_task_call_t *call, sfn_image_t *img,
    const char *bucket, const char *key, const sfn_image_scale_t *scale);

/* the height and width a JPEG's frame header declares; -1 if none */
int sfn_image_jpeg_size(const unsigned char *p, size_t len, int *width,
    int *height, int *baseline);

/*
 * The JPEG decoder's lowres (0..3) for a picture of sw x sh to be scaled
 * to each of scale's sizes, either way up: the largest halving that keeps
 * at least the pixels of every result.
 */
int sfn_image_lowres(int sw, int sh, const sfn_image_scale_t *scale);

/* the input's "key", or the seed's "s3Key"; NULL if neither */
const char *sfn_image_input_key(const cJSON *input);
void sfn_image_free(sfn_image_t *img);

/*
 * The EXIF orientation (1..8) of a display matrix, 1 for none or one that
 * is not a quarter turn or a mirror of one; and the filters that show the
 * picture upright ("" or a chain ending in ',').
 */
int sfn_image_orientation(const int32_t *matrix);
const char *sfn_image_orient_chain(int orientation);

/* non-zero when the len bytes of a file of format f end where they should */
int sfn_image_complete(const sfn_image_format_t *f, const unsigned char *p,
    size_t len);

/*
 * The picture of sw x sh in a box of bw x bh: fitted inside, aspect kept
 * (fill == 0), or covering the box and cropped to it (fill != 0); never
 * enlarged unless enlarge.  -1 for sizes below 1.
 */
int sfn_image_fit(int sw, int sh, int bw, int bh, int fill, int enlarge,
    sfn_image_fit_t *fit);

/*
 * The "sizes" of an input: [{"name", "width", "height"}, ...] or
 * {"small": "800x600" | {"width", "height"}, ...}; absent, the seed's
 * small 800x600 and medium 1200x900.  The count, or -1 with the call
 * failed.
 */
int sfn_image_sizes(sfn_task_call_t *call, const cJSON *input,
    sfn_image_size_t *sizes, int max);

/*
 * The key of a derived picture: the name of key without its extension,
 * "-" suffix and ext appended; in key's directory, or, with a prefix, in
 * prefix followed by key's directory less its first segment
 * ("uploads/u/i.jpg", "processed/", "small" -> "processed/u/i-small.jpg").
 * -1 when it does not fit or is not a valid key.
 */
int sfn_image_key(char *buf, size_t size, const char *key,
    const char *prefix, const char *suffix, const char *ext);

/*
 * Runs the picture, turned upright, through the libavfilter chain,
 * encodes the result as format with quality (1..100) and writes it
 * atomically to bucket/key; *bytes and the picture's size are set on
 * success.  With a mark (an image watermark), the graph has two inputs:
 * the picture as [base] and the mark, upright, through mark_chain, which
 * ends in [m]; chain then starts with both.
 */
int sfn_image_write(sfn_task_call_t *call, const sfn_image_t *img,
    const sfn_image_t *mark, const char *mark_chain, const char *chain,
    const sfn_image_format_t *format, int quality,
    const char *bucket, const char *key, long long *bytes, int *width,
    int *height);

/*
 * The "format" (default: source's) and "quality" (1..100, default 85) of
 * the pictures a task writes.
 */
int sfn_image_output(sfn_task_call_t *call, const cJSON *input,
    const sfn_image_format_t *source, const sfn_image_format_t **format,
    int *quality);

/*
 * A positive integer of the input into *v, dflt when absent or null;
 * fails the call when it is anything else.
 */
int sfn_image_limit(sfn_task_call_t *call, const cJSON *input,
    const char *name, long long dflt, long long *v);

/* the pixel format an encoder of format takes, alpha kept or not */
const char *sfn_image_pix_fmt(const sfn_image_format_t *format, int alpha);

/* non-zero when the decoded picture has an alpha channel */
int sfn_image_has_alpha(const sfn_image_t *img);

/* the task handlers */
int sfn_image_validate(sfn_task_call_t *call);
int sfn_image_resize(sfn_task_call_t *call);
int sfn_image_watermark(sfn_task_call_t *call);


#endif /* _SFN_IMAGE_H_INCLUDED_ */
