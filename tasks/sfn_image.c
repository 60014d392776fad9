
/*
 * Copyright (C) ngx_sfn authors
 *
 * What the image tasks share: the formats, reading and decoding a picture
 * with its limits, fitting it in a box, the sizes and keys of derived
 * pictures, and filtering, encoding and writing one.
 */


#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "sfn_image.h"
#include "sfn_media.h"
#include "sfn_task_int.h"


const sfn_task_def_t  sfn_task_image_defs[] = {
    { "sfn:image:validate", sfn_image_validate },
    { "sfn:image:resize", sfn_image_resize },
    { "sfn:image:watermark", sfn_image_watermark },
    { NULL, NULL }
};


static const sfn_image_format_t  sfn_image_formats[] = {
    { "JPEG", "jpeg_pipe", "image/jpeg", ".jpg", "mjpeg", AV_CODEC_ID_MJPEG },
    { "PNG", "png_pipe", "image/png", ".png", "png", AV_CODEC_ID_PNG },
    { "WEBP", "webp_pipe", "image/webp", ".webp", "libwebp",
      AV_CODEC_ID_WEBP },
    { NULL, NULL, NULL, NULL, NULL, AV_CODEC_ID_NONE }
};


/* the bytes the demuxers' probes look at */
#define SFN_IMAGE_PROBE  4096


const sfn_image_format_t *
sfn_image_format_find(const char *name)
{
    const sfn_image_format_t  *f;

    if (name == NULL) {
        return NULL;
    }

    if (strcasecmp(name, "jpg") == 0 || strcasecmp(name, ".jpeg") == 0
        || strcasecmp(name, "image/jpg") == 0)
    {
        return &sfn_image_formats[0];
    }

    for (f = sfn_image_formats; f->name; f++) {
        if (strcasecmp(name, f->name) == 0 || strcasecmp(name, f->mime) == 0
            || strcasecmp(name, f->ext) == 0)
        {
            return f;
        }
    }

    return NULL;
}


int
sfn_image_complete(const sfn_image_format_t *f, const unsigned char *p,
    size_t len)
{
    size_t    i;
    uint32_t  riff;

    switch (f->codec) {

    case AV_CODEC_ID_MJPEG:

        /* an End Of Image marker; cameras may append data after it */

        for (i = len; i >= 4; i--) {
            if (p[i - 2] == 0xff && p[i - 1] == 0xd9) {
                return 1;
            }
        }

        return 0;

    case AV_CODEC_ID_PNG:

        /* the IEND chunk: length 0, type, CRC */

        for (i = len; i >= 8 + 12; i--) {
            if (memcmp(p + i - 12, "\0\0\0\0IEND", 8) == 0) {
                return 1;
            }
        }

        return 0;

    case AV_CODEC_ID_WEBP:

        /* RIFF: the chunk's length covers the rest of the file */

        if (len < 12 || memcmp(p, "RIFF", 4) != 0) {
            return 0;
        }

        riff = (uint32_t) p[4] | (uint32_t) p[5] << 8
               | (uint32_t) p[6] << 16 | (uint32_t) p[7] << 24;

        return (uint64_t) riff + 8 <= len;

    default:
        return 0;
    }
}


static int
sfn_image_read(sfn_task_call_t *call, const char *path, const char *quoted,
    long long max_size, unsigned char **data, size_t *len)
{
    int             fd, err;
    size_t          n;
    ssize_t         r;
    struct stat     st;
    unsigned char  *p;

    *data = NULL;
    *len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        err = errno;
        return sfn_task_fail(call, SFN_IMAGE_ERROR, "\"%s\" %s", quoted,
                             err == ENOENT ? "does not exist"
                                           : strerror(err));
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sfn_task_fail(call, SFN_IMAGE_ERROR,
                             "\"%s\" is not a file", quoted);
    }

    if (st.st_size == 0) {
        close(fd);
        return sfn_task_fail(call, SFN_IMAGE_ERROR, "\"%s\" is empty",
                             quoted);
    }

    if (st.st_size > max_size
        || st.st_size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
    {
        close(fd);
        return sfn_task_fail(call, SFN_IMAGE_ERROR,
                             "\"%s\" is %lld bytes, more than the limit of "
                             "%lld", quoted, (long long) st.st_size,
                             max_size < INT_MAX ? max_size : INT_MAX);
    }

    p = av_malloc(st.st_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (p == NULL) {
        close(fd);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    n = 0;

    while (n < (size_t) st.st_size) {
        if (sfn_task_cancelled(call)) {
            close(fd);
            av_free(p);
            return sfn_task_fail(call, "States.Timeout", "\"%s\": cancelled",
                                 quoted);
        }

        r = read(fd, p + n, st.st_size - n);

        if (r < 0 && errno == EINTR) {
            continue;
        }

        if (r <= 0) {
            err = r < 0 ? errno : 0;
            close(fd);
            av_free(p);
            return sfn_task_fail(call, "States.TaskFailed",
                                 "read \"%s\" failed: %s", quoted,
                                 err ? strerror(err) : "the file shrank");
        }

        n += r;
    }

    close(fd);

    memset(p + n, 0, AV_INPUT_BUFFER_PADDING_SIZE);

    *data = p;
    *len = n;

    return SFN_TASK_OK;
}


/* the signature a file of each format starts with */

static const sfn_image_format_t *
sfn_image_magic(const unsigned char *p, size_t len)
{
    if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        return &sfn_image_formats[0];
    }

    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
        return &sfn_image_formats[1];
    }

    if (len >= 12 && memcmp(p, "RIFF", 4) == 0
        && memcmp(p + 8, "WEBP", 4) == 0)
    {
        return &sfn_image_formats[2];
    }

    return NULL;
}


/* the format by content alone, as the image2 pipe demuxers see it */

static const sfn_image_format_t *
sfn_image_probe(const unsigned char *p, size_t len, const char **seen)
{
    int                         score;
    AVProbeData                 pd;
    unsigned char               buf[SFN_IMAGE_PROBE
                                    + AVPROBE_PADDING_SIZE];
    const AVInputFormat        *ifmt;
    const sfn_image_format_t   *f;

    len = len < SFN_IMAGE_PROBE ? len : SFN_IMAGE_PROBE;

    memcpy(buf, p, len);
    memset(buf + len, 0, AVPROBE_PADDING_SIZE);

    pd.filename = "";
    pd.buf = buf;
    pd.buf_size = (int) len;
    pd.mime_type = NULL;

    score = 0;
    ifmt = av_probe_input_format2(&pd, 1, &score);

    *seen = ifmt ? ifmt->name : NULL;

    if (ifmt == NULL) {
        return NULL;
    }

    for (f = sfn_image_formats; f->name; f++) {
        if (strcmp(ifmt->name, f->demuxer) == 0) {
            return f;
        }
    }

    return NULL;
}


static int
sfn_image_decode(sfn_task_call_t *call, sfn_image_t *img, const char *quoted,
    unsigned char *data, size_t len, long long max_pixels, int lowres)
{
    int              rc;
    char             err[AV_ERROR_MAX_STRING_SIZE];
    AVPacket        *pkt;
    const char      *log;
    const AVCodec   *codec;
    AVCodecContext  *c;

    codec = avcodec_find_decoder(img->format->codec);
    if (codec == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "no %s decoder", img->format->name);
    }

    c = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    img->frame = av_frame_alloc();

    if (c == NULL || pkt == NULL || img->frame == NULL) {
        avcodec_free_context(&c);
        av_packet_free(&pkt);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    img->dec = c;

    /*
     * the decoders check the dimensions a header declares against
     * max_pixels before they allocate a picture: a small file declaring
     * a huge one is refused without being decoded
     */

    c->max_pixels = max_pixels;
    c->err_recognition = AV_EF_EXPLODE | AV_EF_CRCCHECK | AV_EF_BITSTREAM
                         | AV_EF_BUFFER;
    c->thread_count = 1;
    c->lowres = lowres;

    rc = avcodec_open2(c, codec, NULL);

    if (rc >= 0) {
        pkt->data = data;
        pkt->size = (int) len;

        rc = avcodec_send_packet(c, pkt);

        if (rc >= 0) {
            avcodec_send_packet(c, NULL);
            rc = avcodec_receive_frame(c, img->frame);
        }
    }

    av_packet_free(&pkt);

    if (rc >= 0) {
        return SFN_TASK_OK;
    }

    if (sfn_media_cancelled(call)) {
        return sfn_task_fail(call, "States.Timeout", "\"%s\": cancelled",
                             quoted);
    }

    av_strerror(rc, err, sizeof(err));
    log = sfn_media_last_log();

    if (strncmp(log, "Picture size", 12) == 0) {
        return sfn_task_fail(call, SFN_IMAGE_ERROR,
                             "\"%s\" declares a picture larger than %lld "
                             "pixels (%s)", quoted, max_pixels, log);
    }

    return sfn_task_fail(call, SFN_IMAGE_ERROR,
                         "\"%s\" is a damaged %s image: %s%s%s%s", quoted,
                         img->format->name, err, log[0] ? " (" : "", log,
                         log[0] ? ")" : "");
}


int
sfn_image_orientation(const int32_t *m)
{
    int  i, a, b, c, d;

    /* the signs of the 2 x 2 part, rows as libavcodec's EXIF reader sets */

    static const signed char  signs[8][4] = {
        { 1, 0, 0, 1 }, { -1, 0, 0, 1 }, { -1, 0, 0, -1 }, { 1, 0, 0, -1 },
        { 0, 1, 1, 0 }, { 0, 1, -1, 0 }, { 0, -1, -1, 0 }, { 0, -1, 1, 0 }
    };

    if (m == NULL) {
        return 1;
    }

    a = m[0] > 0 ? 1 : m[0] < 0 ? -1 : 0;
    b = m[1] > 0 ? 1 : m[1] < 0 ? -1 : 0;
    c = m[3] > 0 ? 1 : m[3] < 0 ? -1 : 0;
    d = m[4] > 0 ? 1 : m[4] < 0 ? -1 : 0;

    for (i = 0; i < 8; i++) {
        if (a == signs[i][0] && b == signs[i][1] && c == signs[i][2]
            && d == signs[i][3])
        {
            return i + 1;
        }
    }

    return 1;
}


const char *
sfn_image_orient_chain(int orientation)
{
    static const char  *chains[] = {
        "", "", "hflip,", "hflip,vflip,", "vflip,",
        "transpose=cclock_flip,", "transpose=clock,",
        "transpose=clock_flip,", "transpose=cclock,"
    };

    return orientation >= 1 && orientation <= 8 ? chains[orientation] : "";
}


int
sfn_image_jpeg_size(const unsigned char *p, size_t len, int *width,
    int *height, int *baseline)
{
    size_t    i, seg;
    unsigned  m;

    if (len < 4 || p[0] != 0xff || p[1] != 0xd8) {
        return -1;
    }

    i = 2;

    while (i + 4 <= len) {
        if (p[i] != 0xff) {
            return -1;
        }

        m = p[i + 1];

        /* fill bytes, and the markers that have no length */

        if (m == 0xff) {
            i++;
            continue;
        }

        if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) {
            i += 2;
            continue;
        }

        if (m == 0xd9 || m == 0xda) {
            return -1;
        }

        seg = (size_t) p[i + 2] << 8 | p[i + 3];
        if (seg < 2) {
            return -1;
        }

        /* SOF0..SOF15 less DHT, JPG and DAC */

        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            if (seg < 7 || i + 9 > len) {
                return -1;
            }

            *height = p[i + 5] << 8 | p[i + 6];
            *width = p[i + 7] << 8 | p[i + 8];
            *baseline = m == 0xc0 || m == 0xc1;

            return 0;
        }

        i += 2 + seg;
    }

    return -1;
}


int
sfn_image_lowres(int sw, int sh, const sfn_image_scale_t *scale)
{
    int              i, k, turn, cw, ch;
    sfn_image_fit_t  fit;

    if (scale == NULL || scale->n < 1 || sw < 1 || sh < 1) {
        return 0;
    }

    for (k = 3; k > 0; k--) {
        for (i = 0; i < scale->n; i++) {
            for (turn = 0; turn < 2; turn++) {
                if (sfn_image_fit(turn ? sh : sw, turn ? sw : sh,
                                  scale->sizes[i].width,
                                  scale->sizes[i].height, scale->fill,
                                  scale->enlarge, &fit)
                    != 0)
                {
                    return 0;
                }

                /* the part kept, decoded smaller, against the result */

                cw = (fit.crop_w + (1 << k) - 1) >> k;
                ch = (fit.crop_h + (1 << k) - 1) >> k;

                if (cw < fit.width || ch < fit.height) {
                    goto smaller;
                }
            }
        }

        return k;

    smaller:

        continue;
    }

    return 0;
}


const char *
sfn_image_input_key(const cJSON *input)
{
    const char  *key;

    key = sfn_task_string(input, "key");

    return key ? key : sfn_task_string(input, "s3Key");
}


int
sfn_image_load(sfn_task_call_t *call, sfn_image_t *img, const char *bucket,
    const char *key, const sfn_image_scale_t *scale)
{
    int                        rc, lowres, w, h, baseline;
    char                       path[SFN_TASK_PATH_MAX], quoted[1100];
    size_t                     len;
    long long                  max_size, max_pixels;
    const char                *seen;
    unsigned char             *data;
    AVFrameSideData           *sd;
    const sfn_image_format_t  *f;

    memset(img, 0, sizeof(sfn_image_t));

    if (sfn_image_limit(call, call->input, "maxFileSize",
                        SFN_IMAGE_MAX_FILE_SIZE, &max_size)
        != SFN_TASK_OK
        || sfn_image_limit(call, call->input, "maxPixels",
                           SFN_IMAGE_MAX_PIXELS, &max_pixels)
           != SFN_TASK_OK
        || sfn_task_bucket_path(call, bucket, key, path, sizeof(path))
           == NULL)
    {
        return SFN_TASK_FAILED;
    }

    sfn_media_init();
    sfn_task_quote(quoted, sizeof(quoted), key, strlen(key));

    if (sfn_image_read(call, path, quoted, max_size, &data, &len)
        != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    img->size = (long long) len;
    img->format = sfn_image_probe(data, len, &seen);

    if (img->format == NULL) {
        f = sfn_image_magic(data, len);
        av_free(data);

        if (f) {
            return sfn_task_fail(call, SFN_IMAGE_ERROR,
                                 "\"%s\" is a damaged %s image: its headers "
                                 "cannot be read", quoted, f->name);
        }

        if (seen) {
            return sfn_task_fail(call, SFN_IMAGE_ERROR,
                                 "\"%s\" is not a JPEG, PNG or WebP image "
                                 "(it reads as %s)", quoted, seen);
        }

        return sfn_task_fail(call, SFN_IMAGE_ERROR,
                             "\"%s\" is not a JPEG, PNG or WebP image",
                             quoted);
    }

    if (!sfn_image_complete(img->format, data, len)) {
        av_free(data);
        return sfn_task_fail(call, SFN_IMAGE_ERROR,
                             "\"%s\" is a truncated %s image", quoted,
                             img->format->name);
    }

    lowres = 0;

    if (scale && img->format->codec == AV_CODEC_ID_MJPEG
        && sfn_image_jpeg_size(data, len, &w, &h, &baseline) == 0
        && baseline)
    {
        lowres = sfn_image_lowres(w, h, scale);
    }

    rc = sfn_image_decode(call, img, quoted, data, len, max_pixels, lowres);

    av_free(data);

    if (rc != SFN_TASK_OK) {
        return rc;
    }

    sd = av_frame_get_side_data(img->frame, AV_FRAME_DATA_DISPLAYMATRIX);
    img->orientation = sfn_image_orientation(
                           sd && sd->size >= 9 * sizeof(int32_t)
                           ? (const int32_t *) sd->data : NULL);

    img->width = img->orientation >= 5 ? img->frame->height
                                       : img->frame->width;
    img->height = img->orientation >= 5 ? img->frame->width
                                        : img->frame->height;

    return SFN_TASK_OK;
}


void
sfn_image_free(sfn_image_t *img)
{
    av_frame_free(&img->frame);
    avcodec_free_context(&img->dec);
}


int
sfn_image_has_alpha(const sfn_image_t *img)
{
    const AVPixFmtDescriptor  *d;

    d = av_pix_fmt_desc_get(img->frame->format);

    return d && (d->flags & AV_PIX_FMT_FLAG_ALPHA);
}


int
sfn_image_fit(int sw, int sh, int bw, int bh, int fill, int enlarge,
    sfn_image_fit_t *fit)
{
    long long  w, h;

    if (sw < 1 || sh < 1 || bw < 1 || bh < 1) {
        return -1;
    }

    if (fill) {
        if (!enlarge) {
            bw = bw < sw ? bw : sw;
            bh = bh < sh ? bh : sh;
        }

        /* the centre of the picture with the box's aspect, then scaled */

        if ((long long) sw * bh >= (long long) sh * bw) {
            h = sh;
            w = ((long long) sh * bw * 2 + bh) / (2LL * bh);

        } else {
            w = sw;
            h = ((long long) sw * bh * 2 + bw) / (2LL * bw);
        }

        fit->crop_w = (int) (w < 1 ? 1 : w > sw ? sw : w);
        fit->crop_h = (int) (h < 1 ? 1 : h > sh ? sh : h);
        fit->width = bw;
        fit->height = bh;

        return 0;
    }

    if (!enlarge && sw <= bw && sh <= bh) {
        w = sw;
        h = sh;

    } else if ((long long) sw * bh >= (long long) sh * bw) {
        w = bw;
        h = ((long long) sh * bw * 2 + sw) / (2LL * sw);

    } else {
        h = bh;
        w = ((long long) sw * bh * 2 + sh) / (2LL * sh);
    }

    fit->width = (int) (w < 1 ? 1 : w);
    fit->height = (int) (h < 1 ? 1 : h);
    fit->crop_w = sw;
    fit->crop_h = sh;

    return 0;
}


static int
sfn_image_size_parse(sfn_task_call_t *call, const cJSON *item,
    const char *name, sfn_image_size_t *s)
{
    int           n;
    char          quoted[300], tail;
    const cJSON  *w, *h;

    sfn_task_quote(quoted, sizeof(quoted), name, strlen(name));

    n = (int) strlen(name);

    if (n == 0 || n > SFN_IMAGE_NAME_MAX || strchr(name, '/')
        || !sfn_key_valid(name, n))
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "size name \"%s\" is not 1 to %d characters of "
                             "a key segment", quoted, SFN_IMAGE_NAME_MAX);
    }

    memcpy(s->name, name, n + 1);

    if (cJSON_IsString(item)) {
        if (sscanf(item->valuestring, "%dx%d%c", &s->width, &s->height,
                   &tail)
            != 2)
        {
            s->width = 0;
        }

    } else if (cJSON_IsObject(item)) {
        w = cJSON_GetObjectItemCaseSensitive(item, "width");
        h = cJSON_GetObjectItemCaseSensitive(item, "height");

        s->width = cJSON_IsNumber(w) && w->valuedouble >= 1
                   && w->valuedouble <= SFN_IMAGE_MAX_SIDE
                   && w->valuedouble == (int) w->valuedouble
                   ? (int) w->valuedouble : 0;
        s->height = cJSON_IsNumber(h) && h->valuedouble >= 1
                    && h->valuedouble <= SFN_IMAGE_MAX_SIDE
                    && h->valuedouble == (int) h->valuedouble
                    ? (int) h->valuedouble : 0;

    } else {
        s->width = 0;
    }

    if (s->width < 1 || s->width > SFN_IMAGE_MAX_SIDE
        || s->height < 1 || s->height > SFN_IMAGE_MAX_SIDE)
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "size \"%s\" needs a width and a height of 1 "
                             "to %d", quoted, SFN_IMAGE_MAX_SIDE);
    }

    return SFN_TASK_OK;
}


int
sfn_image_sizes(sfn_task_call_t *call, const cJSON *input,
    sfn_image_size_t *sizes, int max)
{
    int           n, i;
    const cJSON  *list, *item, *name;

    list = cJSON_GetObjectItemCaseSensitive(input, "sizes");

    if (list == NULL || cJSON_IsNull(list)) {
        if (max < 2) {
            return -1;
        }

        /* the seed's ResizeImage */

        memcpy(sizes[0].name, "small", 6);
        sizes[0].width = 800;
        sizes[0].height = 600;
        memcpy(sizes[1].name, "medium", 7);
        sizes[1].width = 1200;
        sizes[1].height = 900;

        return 2;
    }

    if (!cJSON_IsArray(list) && !cJSON_IsObject(list)) {
        sfn_task_fail(call, "States.TaskFailed",
                      "\"sizes\" must be an array or an object");
        return -1;
    }

    n = 0;

    cJSON_ArrayForEach(item, list) {
        if (n == max) {
            sfn_task_fail(call, "States.TaskFailed",
                          "\"sizes\" has more than %d sizes", max);
            return -1;
        }

        if (cJSON_IsArray(list)) {
            name = cJSON_GetObjectItemCaseSensitive(item, "name");

            if (!cJSON_IsString(name)) {
                sfn_task_fail(call, "States.TaskFailed",
                              "each of \"sizes\" needs a \"name\"");
                return -1;
            }

            if (sfn_image_size_parse(call, item, name->valuestring,
                                     &sizes[n])
                != SFN_TASK_OK)
            {
                return -1;
            }

        } else if (sfn_image_size_parse(call, item, item->string, &sizes[n])
                   != SFN_TASK_OK)
        {
            return -1;
        }

        for (i = 0; i < n; i++) {
            if (strcmp(sizes[i].name, sizes[n].name) == 0) {
                sfn_task_fail(call, "States.TaskFailed",
                              "size \"%s\" is named twice", sizes[n].name);
                return -1;
            }
        }

        n++;
    }

    if (n == 0) {
        sfn_task_fail(call, "States.TaskFailed", "\"sizes\" is empty");
        return -1;
    }

    return n;
}


int
sfn_image_key(char *buf, size_t size, const char *key, const char *prefix,
    const char *suffix, const char *ext)
{
    int          n;
    size_t       dlen, slen;
    const char  *name, *dot, *dir;

    name = strrchr(key, '/');
    name = name ? name + 1 : key;
    dir = key;
    dlen = name - key;

    if (prefix) {
        dir = memchr(key, '/', dlen);
        dir = dir ? dir + 1 : name;
        dlen = name - dir;
    }

    dot = strrchr(name, '.');
    slen = dot && dot != name ? (size_t) (dot - name) : strlen(name);

    n = snprintf(buf, size, "%s%.*s%.*s%s%s%s", prefix ? prefix : "",
                 (int) dlen, dir, (int) slen, name, suffix ? "-" : "",
                 suffix ? suffix : "", ext);

    if (n < 0 || (size_t) n >= size || !sfn_key_valid(buf, n)) {
        return -1;
    }

    return n;
}


const char *
sfn_image_pix_fmt(const sfn_image_format_t *format, int alpha)
{
    switch (format->codec) {

    case AV_CODEC_ID_MJPEG:
        return "yuvj420p";

    case AV_CODEC_ID_PNG:
        return alpha ? "rgba" : "rgb24";

    default:
        return alpha ? "yuva420p" : "yuv420p";
    }
}


/* a buffer source named name for the frames of img, added to graph */

static int
sfn_image_source(AVFilterGraph *graph, const sfn_image_t *img,
    const char *name, AVFilterContext **src, AVFilterInOut **outputs)
{
    int             rc;
    char            args[160];
    AVFilterInOut  *io;

    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=1/25:pixel_aspect=1/1",
             img->frame->width, img->frame->height, img->frame->format);

    rc = avfilter_graph_create_filter(src, avfilter_get_by_name("buffer"),
                                      name, args, NULL, graph);
    if (rc < 0) {
        return rc;
    }

    io = avfilter_inout_alloc();
    if (io == NULL) {
        return AVERROR(ENOMEM);
    }

    io->name = av_strdup(name);
    io->filter_ctx = *src;
    io->next = *outputs;
    *outputs = io;

    return io->name ? 0 : AVERROR(ENOMEM);
}


static int
sfn_image_push(AVFilterContext *src, const sfn_image_t *img)
{
    int       rc;
    AVFrame  *in;

    in = av_frame_clone(img->frame);
    if (in == NULL) {
        return AVERROR(ENOMEM);
    }

    /* the orientation is applied by the graph; the encoders write none */

    in->pts = 0;
    av_frame_remove_side_data(in, AV_FRAME_DATA_DISPLAYMATRIX);

    rc = av_buffersrc_add_frame(src, in);
    av_frame_free(&in);

    return rc < 0 ? rc : av_buffersrc_add_frame(src, NULL);
}


/*
 * img, upright, through chain into out.  With a mark, the graph has two
 * inputs: the picture as [base] before chain, and the mark, upright, as
 * [wm] before mark_chain, which is to end in [m] for chain to use.
 */

static int
sfn_image_filter(sfn_task_call_t *call, const sfn_image_t *img,
    const sfn_image_t *mark, const char *mark_chain, const char *chain,
    AVFrame *out)
{
    int               rc;
    char             *desc;
    AVFilterGraph    *graph;
    AVFilterInOut    *outputs, *inputs;
    AVFilterContext  *src, *wsrc, *sink;

    if (mark) {
        desc = av_asprintf("[in]%snull[base];[wm]%s%s;%s",
                           sfn_image_orient_chain(img->orientation),
                           sfn_image_orient_chain(mark->orientation),
                           mark_chain, chain);

    } else {
        desc = av_asprintf("%s%s", sfn_image_orient_chain(img->orientation),
                           chain);
    }

    graph = avfilter_graph_alloc();
    outputs = NULL;
    inputs = avfilter_inout_alloc();

    if (desc == NULL || graph == NULL || inputs == NULL) {
        rc = AVERROR(ENOMEM);
        goto done;
    }

    /* one picture: the thread that runs the task is enough */

    graph->nb_threads = 1;

    rc = avfilter_graph_create_filter(&sink,
                                      avfilter_get_by_name("buffersink"),
                                      "out", NULL, NULL, graph);
    if (rc < 0) {
        goto done;
    }

    inputs->name = av_strdup("out");
    inputs->filter_ctx = sink;

    rc = inputs->name ? 0 : AVERROR(ENOMEM);

    if (rc >= 0 && mark) {
        rc = sfn_image_source(graph, mark, "wm", &wsrc, &outputs);
    }

    if (rc >= 0) {
        rc = sfn_image_source(graph, img, "in", &src, &outputs);
    }

    if (rc >= 0) {
        rc = avfilter_graph_parse_ptr(graph, desc, &inputs, &outputs, NULL);
    }

    if (rc >= 0) {
        rc = avfilter_graph_config(graph, NULL);
    }

    if (rc >= 0) {
        rc = sfn_image_push(src, img);
    }

    if (rc >= 0 && mark) {
        rc = sfn_image_push(wsrc, mark);
    }

    if (rc >= 0) {
        rc = av_buffersink_get_frame(sink, out);
    }

done:

    avfilter_inout_free(&outputs);
    avfilter_inout_free(&inputs);
    avfilter_graph_free(&graph);
    av_free(desc);

    if (rc < 0) {
        return sfn_media_fail_av(call, "image", "cannot be filtered", rc);
    }

    return SFN_TASK_OK;
}


/* ITU T.81 Annex K: the example quantisation tables, in natural order */

static const uint8_t  sfn_image_jpeg_luma[64] = {
    16,  11,  10,  16,  24,  40,  51,  61,
    12,  12,  14,  19,  26,  58,  60,  55,
    14,  13,  16,  24,  40,  57,  69,  56,
    14,  17,  22,  29,  51,  87,  80,  62,
    18,  22,  37,  56,  68, 109, 103,  77,
    24,  35,  55,  64,  81, 104, 113,  92,
    49,  64,  78,  87, 103, 121, 120, 101,
    72,  92,  95,  98, 112, 100, 103,  99
};

static const uint8_t  sfn_image_jpeg_chroma[64] = {
    17,  18,  24,  47,  99,  99,  99,  99,
    18,  21,  26,  66,  99,  99,  99,  99,
    24,  26,  56,  99,  99,  99,  99,  99,
    47,  66,  99,  99,  99,  99,  99,  99,
    99,  99,  99,  99,  99,  99,  99,  99,
    99,  99,  99,  99,  99,  99,  99,  99,
    99,  99,  99,  99,  99,  99,  99,  99,
    99,  99,  99,  99,  99,  99,  99,  99
};


/*
 * A quality of 1..100 as libjpeg's cjpeg makes it: the Annex K table
 * scaled by 5000 / q percent below 50, 200 - 2q above.  libavcodec's
 * MJPEG encoder quantises with (matrix * qscale) >> 3, so at qscale 1 the
 * matrix is the table times 8; NULL when out of memory.
 */

static uint16_t *
sfn_image_jpeg_matrix(const uint8_t *table, int quality)
{
    int        i, scale;
    long       v;
    uint16_t  *m;

    m = av_malloc(64 * sizeof(uint16_t));
    if (m == NULL) {
        return NULL;
    }

    scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;

    for (i = 0; i < 64; i++) {
        v = ((long) table[i] * scale + 50) / 100;
        m[i] = (uint16_t) (8 * (v < 1 ? 1 : v > 255 ? 255 : v));
    }

    return m;
}


static int
sfn_image_encode(sfn_task_call_t *call, const AVFrame *frame,
    const sfn_image_format_t *format, int quality, AVPacket *pkt)
{
    int              rc;
    const AVCodec   *codec;
    AVCodecContext  *c;

    codec = avcodec_find_encoder_by_name(format->encoder);
    if (codec == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "no %s encoder",
                             format->name);
    }

    c = avcodec_alloc_context3(codec);
    if (c == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    c->width = frame->width;
    c->height = frame->height;
    c->pix_fmt = frame->format;
    c->time_base = (AVRational) { 1, 25 };
    c->sample_aspect_ratio = (AVRational) { 1, 1 };
    c->color_range = frame->color_range;
    c->thread_count = 1;

    switch (format->codec) {

    case AV_CODEC_ID_MJPEG:

        /* libjpeg's tables for the quality, at the quantiser scale 1 */

        c->intra_matrix = sfn_image_jpeg_matrix(sfn_image_jpeg_luma,
                                                quality);
        c->chroma_intra_matrix = sfn_image_jpeg_matrix(sfn_image_jpeg_chroma,
                                                       quality);

        if (c->intra_matrix == NULL || c->chroma_intra_matrix == NULL) {
            avcodec_free_context(&c);
            return sfn_task_fail(call, "States.TaskFailed", "out of memory");
        }

        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = FF_QP2LAMBDA;
        c->qmin = 1;
        c->qmax = 1;
        av_opt_set_int(c->priv_data, "huffman", 1, 0);
        break;

    case AV_CODEC_ID_PNG:

        /* lossless: quality chooses effort, as libpng's levels 1..9 */

        c->compression_level = 1 + (quality * 8 + 50) / 100;
        av_opt_set(c->priv_data, "pred", "mixed", 0);
        break;

    default:
        av_opt_set_double(c->priv_data, "quality", quality, 0);
        break;
    }

    rc = avcodec_open2(c, codec, NULL);

    if (rc >= 0) {
        rc = avcodec_send_frame(c, frame);
    }

    if (rc >= 0) {
        rc = avcodec_send_frame(c, NULL);
    }

    if (rc >= 0) {
        rc = avcodec_receive_packet(c, pkt);
    }

    avcodec_free_context(&c);

    if (rc < 0) {
        return sfn_media_fail_av(call, format->name, "encoding failed", rc);
    }

    return SFN_TASK_OK;
}


int
sfn_image_write(sfn_task_call_t *call, const sfn_image_t *img,
    const sfn_image_t *mark, const char *mark_chain, const char *chain,
    const sfn_image_format_t *format, int quality,
    const char *bucket, const char *key, long long *bytes, int *width,
    int *height)
{
    int        rc;
    char       path[SFN_TASK_PATH_MAX];
    AVFrame   *frame;
    AVPacket  *pkt;

    if (sfn_task_bucket_path(call, bucket, key, path, sizeof(path)) == NULL) {
        return SFN_TASK_FAILED;
    }

    frame = av_frame_alloc();
    pkt = av_packet_alloc();

    if (frame == NULL || pkt == NULL) {
        av_frame_free(&frame);
        av_packet_free(&pkt);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    rc = sfn_image_filter(call, img, mark, mark_chain, chain, frame);

    if (rc == SFN_TASK_OK) {
        rc = sfn_image_encode(call, frame, format, quality, pkt);
    }

    if (rc == SFN_TASK_OK && sfn_task_cancelled(call)) {
        rc = sfn_task_fail(call, "States.Timeout", "cancelled");
    }

    if (rc == SFN_TASK_OK) {
        rc = sfn_task_write_atomic(call, path, (const char *) pkt->data,
                                   pkt->size);
    }

    if (rc == SFN_TASK_OK) {
        *bytes = pkt->size;
        *width = frame->width;
        *height = frame->height;
    }

    av_frame_free(&frame);
    av_packet_free(&pkt);

    return rc;
}


int
sfn_image_output(sfn_task_call_t *call, const cJSON *input,
    const sfn_image_format_t *source, const sfn_image_format_t **format,
    int *quality)
{
    const char    *name;
    const cJSON   *q;

    if (sfn_task_opt_string(call, input, "format", &name) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    *format = name ? sfn_image_format_find(name) : source;

    if (*format == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"format\" is JPEG, PNG or WebP");
    }

    q = cJSON_GetObjectItemCaseSensitive(input, "quality");
    *quality = 85;

    if (q && !cJSON_IsNull(q)) {
        if (!cJSON_IsNumber(q) || q->valuedouble < 1 || q->valuedouble > 100
            || q->valuedouble != (int) q->valuedouble)
        {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"quality\" is an integer of 1 to 100");
        }

        *quality = (int) q->valuedouble;
    }

    return SFN_TASK_OK;
}


int
sfn_image_limit(sfn_task_call_t *call, const cJSON *input, const char *name,
    long long dflt, long long *v)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(input, name);
    *v = dflt;

    if (item == NULL || cJSON_IsNull(item)) {
        return SFN_TASK_OK;
    }

    if (!cJSON_IsNumber(item) || !(item->valuedouble >= 1)
        || item->valuedouble > 9007199254740992.0
        || item->valuedouble != (double) (long long) item->valuedouble)
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"%s\" is a positive integer", name);
    }

    *v = (long long) item->valuedouble;

    return SFN_TASK_OK;
}
