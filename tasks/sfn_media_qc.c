
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:media:qc - checks every output against the source: streams,
 * duration, size, frame rate, HLS playlists (segments, durations,
 * alignment across renditions), PSNR and SSIM against the source scaled
 * the way the transcoder scales it, black and silence.
 *
 * The transcode measures PSNR, SSIM, black frames and silence while it
 * encodes; given its result ("transcode"), QC reads each output's packets
 * without decoding them (the container, the frame count that ties the
 * figures to the file, the durations) and decodes only its first frames.
 * An output without such figures, or whose frames disagree with them, is
 * decoded in full and compared here.  A damaged output fails its checks,
 * never the task.
 */


#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/pixdesc.h>

#include "sfn_media.h"


#define SFN_QC_MAX_SEGS  4096


typedef struct {
    double                min_psnr;
    double                min_ssim;
    double                min_score;
    double                tolerance;    /* duration, seconds */
    double                max_black;    /* ratio of black frames */
    double                max_silence;  /* ratio of silent audio */
    int                   max_frames;   /* compared frames per rendition */
} sfn_qc_conf_t;


/* the source, decoded and scaled to a rendition's size on demand */
typedef struct {
    sfn_media_input_t     in;
    sfn_media_filter_t    filter;
    AVPacket             *pkt;
    AVFrame              *dec;
    AVFrame              *cur;
    AVFrame              *nxt;
    double                cur_t;
    double                nxt_t;
    int                   have_cur;
    int                   have_nxt;
    int                   dec_eof;
    int                   eof;
} sfn_qc_ref_t;


typedef struct {
    sfn_task_call_t      *call;
    sfn_qc_conf_t         conf;
    char                  src_path[SFN_MEDIA_PATH_MAX];
    const char           *src_name;
    int                   have_src;
    double                src_duration;
    double                src_fps;
    double                src_aspect;   /* displayed */
    int                   src_audio;

    /* the transcode's outputs, with the figures measured in the encode */
    const cJSON          *transcode;
    const char           *bucket;       /* of the output being checked */

    /* progress: output, file of it, variant of it, part of that */
    int                   out_i;
    int                   nouts;
    int                   file_i;
    int                   nfiles;
    int                   var_i;
    int                   nvars;
    double                started;
    int64_t               frames;
} sfn_qc_t;


static void
sfn_qc_progress(sfn_qc_t *qc, double part)
{
    double                 pct, el;
    const sfn_task_env_t  *env;

    env = qc->call->env;

    if (env == NULL || env->progress == NULL || qc->nouts == 0) {
        return;
    }

    part = part < 0 ? 0 : part > 1 ? 1 : part;

    pct = (qc->var_i + part) / (qc->nvars > 0 ? qc->nvars : 1);
    pct = (qc->file_i + pct) / (qc->nfiles > 0 ? qc->nfiles : 1);
    pct = 100 * (qc->out_i + pct) / qc->nouts;

    el = sfn_media_now() - qc->started;

    env->progress(env->data, pct > 99.9 ? 99.9 : pct,
                  el > 0 ? qc->frames / el : 0);
}


/*
 * The figures the transcode measured for the file "key" of the output's
 * bucket: an output of its list, or a rendition of an HLS one.
 */

static const cJSON *
sfn_qc_figures(sfn_qc_t *qc, const char *key)
{
    const char   *b, *k;
    const cJSON  *list, *o, *r, *q;

    list = qc->transcode;

    if (cJSON_IsObject(list)) {
        list = cJSON_GetObjectItemCaseSensitive(list, "outputs");
    }

    cJSON_ArrayForEach(o, list) {
        b = sfn_task_string(o, "bucket");

        if (b == NULL || qc->bucket == NULL || strcmp(b, qc->bucket) != 0) {
            continue;
        }

        q = NULL;
        k = sfn_task_string(o, "key");

        if (k && strcmp(k, key) == 0) {
            q = cJSON_GetObjectItemCaseSensitive(o, "quality");
        }

        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o,
                                                               "renditions"))
        {
            k = sfn_task_string(r, "key");

            if (k && strcmp(k, key) == 0) {
                q = cJSON_GetObjectItemCaseSensitive(r, "quality");
            }
        }

        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(q, "psnr"))
            && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(q, "ssim"))
            && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(q, "frames")))
        {
            return q;
        }
    }

    return NULL;
}


/* metrics */


static void
sfn_qc_plane(const uint8_t *a, int as, const uint8_t *b, int bs, int w,
    int h, double *sse, double *ssim, double *nblocks)
{
    int             x, y, i, j;
    double          d, ma, mb, va, vb, cov, n;
    const uint8_t  *pa, *pb;

    static const double  c1 = 6.5025, c2 = 58.5225;

    for (y = 0; y < h; y++) {
        pa = a + y * as;
        pb = b + y * bs;

        for (x = 0; x < w; x++) {
            d = (double) pa[x] - pb[x];
            *sse += d * d;
        }
    }

    /* SSIM over 8x8 windows, stepping 4, as x264 and libavfilter do */

    if (ssim == NULL) {
        return;
    }

    n = 64;

    for (y = 0; y + 8 <= h; y += 4) {
        for (x = 0; x + 8 <= w; x += 4) {
            ma = mb = va = vb = cov = 0;

            for (j = 0; j < 8; j++) {
                pa = a + (y + j) * as + x;
                pb = b + (y + j) * bs + x;

                for (i = 0; i < 8; i++) {
                    ma += pa[i];
                    mb += pb[i];
                    va += pa[i] * pa[i];
                    vb += pb[i] * pb[i];
                    cov += pa[i] * pb[i];
                }
            }

            ma /= n;
            mb /= n;
            va = va / n - ma * ma;
            vb = vb / n - mb * mb;
            cov = cov / n - ma * mb;

            *ssim += ((2 * ma * mb + c1) * (2 * cov + c2))
                     / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            *nblocks += 1;
        }
    }
}


/*
 * The figures libavfilter's psnr and ssim filters give, and x264 gives in
 * the encode: PSNR over Y, U and V from the sum of their squared errors
 * (the "average" of vf_psnr), SSIM of the luma plane (its "Y").
 */

static void
sfn_qc_compare(const AVFrame *a, const AVFrame *b, double *sse,
    double *pix, double *ssim)
{
    int     p, w, h;
    double  e, s, n;

    *sse = 0;
    *pix = 0;
    *ssim = 1;

    for (p = 0; p < 3; p++) {
        w = p ? (a->width + 1) / 2 : a->width;
        h = p ? (a->height + 1) / 2 : a->height;

        e = 0;
        s = 0;
        n = 0;

        sfn_qc_plane(a->data[p], a->linesize[p], b->data[p], b->linesize[p],
                     w, h, &e, p == 0 ? &s : NULL, &n);

        *sse += e;
        *pix += (double) w * h;

        if (p == 0 && n > 0) {
            *ssim = s / n;
        }
    }
}


static double
sfn_qc_psnr(double sse, double pix)
{
    double  psnr;

    psnr = sse > 0 ? 10 * log10(255.0 * 255.0 * pix / sse) : 100;

    return psnr > 100 ? 100 : psnr;
}


/* the reference: next scaled source frame */

static int
sfn_qc_ref_open(sfn_qc_t *qc, sfn_qc_ref_t *ref, int w, int h)
{
    int        rc;
    char       chain[512];
    AVStream  *st;

    memset(ref, 0, sizeof(sfn_qc_ref_t));

    if (sfn_media_input_open(qc->call, &ref->in, qc->src_path, qc->src_name,
                             1)
        != SFN_TASK_OK || ref->in.vindex < 0)
    {
        return -1;
    }

    st = ref->in.fmt->streams[ref->in.vindex];

    sfn_media_scale_chain(chain, sizeof(chain), ref->in.rotation, w, h,
                          "yuv420p");

    rc = sfn_media_filter_init(&ref->filter, ref->in.vdec, st->time_base,
                               chain);

    ref->pkt = av_packet_alloc();
    ref->dec = av_frame_alloc();
    ref->cur = av_frame_alloc();
    ref->nxt = av_frame_alloc();

    if (rc < 0 || ref->pkt == NULL || ref->dec == NULL || ref->cur == NULL
        || ref->nxt == NULL)
    {
        return -1;
    }

    return 0;
}


static void
sfn_qc_ref_close(sfn_qc_ref_t *ref)
{
    av_packet_free(&ref->pkt);
    av_frame_free(&ref->dec);
    av_frame_free(&ref->cur);
    av_frame_free(&ref->nxt);
    sfn_media_filter_free(&ref->filter);
    sfn_media_input_close(&ref->in);
}


static int
sfn_qc_ref_pull(sfn_qc_ref_t *ref, AVFrame *out, double *t)
{
    int        rc;
    int64_t    start;
    AVStream  *st;

    st = ref->in.fmt->streams[ref->in.vindex];
    start = av_rescale_q(ref->in.start, AV_TIME_BASE_Q, st->time_base);

    for ( ;; ) {
        rc = av_buffersink_get_frame(ref->filter.sink, out);

        if (rc >= 0) {
            *t = out->pts * av_q2d(st->time_base);
            return 0;
        }

        if (rc != AVERROR(EAGAIN)) {
            return -1;
        }

        rc = avcodec_receive_frame(ref->in.vdec, ref->dec);

        if (rc >= 0) {
            ref->dec->pts = ref->dec->best_effort_timestamp
                            == AV_NOPTS_VALUE
                            ? 0 : ref->dec->best_effort_timestamp - start;

            if (av_buffersrc_add_frame(ref->filter.src, ref->dec) < 0) {
                return -1;
            }

            continue;
        }

        if (rc == AVERROR_EOF) {
            if (av_buffersrc_add_frame(ref->filter.src, NULL) < 0) {
                return -1;
            }

            if (av_buffersink_get_frame(ref->filter.sink, out) >= 0) {
                *t = out->pts * av_q2d(st->time_base);
                return 0;
            }

            return -1;
        }

        if (ref->dec_eof) {
            return -1;
        }

        for ( ;; ) {
            rc = av_read_frame(ref->in.fmt, ref->pkt);

            if (rc < 0) {
                ref->dec_eof = 1;
                avcodec_send_packet(ref->in.vdec, NULL);
                break;
            }

            if (ref->pkt->stream_index != ref->in.vindex) {
                av_packet_unref(ref->pkt);
                continue;
            }

            avcodec_send_packet(ref->in.vdec, ref->pkt);
            av_packet_unref(ref->pkt);
            break;
        }
    }
}


/* the source frame nearest to time t */

static AVFrame *
sfn_qc_ref_at(sfn_qc_ref_t *ref, double t)
{
    AVFrame  *tmp;

    while (!ref->eof && (!ref->have_nxt || ref->nxt_t < t)) {
        if (ref->have_nxt) {
            tmp = ref->cur;
            ref->cur = ref->nxt;
            ref->nxt = tmp;
            ref->cur_t = ref->nxt_t;
            ref->have_cur = 1;
            ref->have_nxt = 0;
            av_frame_unref(ref->nxt);
        }

        if (sfn_qc_ref_pull(ref, ref->nxt, &ref->nxt_t) == 0) {
            ref->have_nxt = 1;

        } else {
            ref->eof = 1;
        }
    }

    if (ref->have_cur && ref->have_nxt) {
        return fabs(ref->cur_t - t) <= fabs(ref->nxt_t - t)
               ? ref->cur : ref->nxt;
    }

    return ref->have_nxt ? ref->nxt : ref->have_cur ? ref->cur : NULL;
}


/* the first frame a decoder gives for a packet, or at its end */

static int
sfn_qc_first_frame(AVCodecContext *dec, AVPacket *pkt, AVFrame *frame)
{
    if (avcodec_send_packet(dec, pkt) < 0 && pkt) {
        return 0;
    }

    if (avcodec_receive_frame(dec, frame) < 0) {
        return 0;
    }

    av_frame_unref(frame);

    return !(frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT));
}


/* the first instant and the end of a stream, packet by packet */

static void
sfn_qc_span(AVFormatContext *fmt, const AVPacket *pkt, double *first,
    double *end)
{
    double  tb, t;

    if (pkt->pts == AV_NOPTS_VALUE) {
        return;
    }

    tb = av_q2d(fmt->streams[pkt->stream_index]->time_base);
    t = pkt->pts * tb;

    if (*first < 0 || t < *first) {
        *first = t;
    }

    if (t + pkt->duration * tb > *end) {
        *end = t + pkt->duration * tb;
    }
}


/*
 * An output the transcode measured: its packets are read, not decoded,
 * except the first of each stream.  NULL when it must be decoded in full
 * instead: it does not open or read cleanly (the full pass says why), or
 * its frames are not the ones the figures were measured on.
 */

static cJSON *
sfn_qc_scan(sfn_qc_t *qc, const char *path, const char *name,
    const cJSON *fig)
{
    int                 rc, vok, aok, npkts;
    cJSON              *r;
    double              vfirst, vend, afirst, aend, vdur, adur, fps;
    int64_t             vframes;
    AVFrame            *frame;
    AVPacket           *pkt;
    AVStream           *st;
    sfn_task_call_t     sub;
    sfn_media_input_t   in;

    memset(&sub, 0, sizeof(sfn_task_call_t));
    sub.env = qc->call->env;
    sub.input = qc->call->input;

    if (sfn_media_input_open(&sub, &in, path, name, 1) != SFN_TASK_OK) {
        sfn_media_input_close(&in);
        return NULL;
    }

    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    vok = in.vindex < 0;
    aok = in.aindex < 0;
    vframes = 0;
    vfirst = -1;
    vend = 0;
    afirst = -1;
    aend = 0;
    npkts = 0;
    rc = pkt && frame ? 0 : AVERROR(ENOMEM);

    while (rc == 0) {
        if (sfn_media_cancelled(qc->call)) {
            rc = AVERROR_EXIT;
            break;
        }

        rc = av_read_frame(in.fmt, pkt);

        if (rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc < 0) {
            break;
        }

        if (pkt->stream_index == in.vindex) {
            vframes++;
            sfn_qc_span(in.fmt, pkt, &vfirst, &vend);

            if (!vok) {
                vok = sfn_qc_first_frame(in.vdec, pkt, frame);
            }

        } else if (pkt->stream_index == in.aindex) {
            sfn_qc_span(in.fmt, pkt, &afirst, &aend);

            if (!aok) {
                aok = sfn_qc_first_frame(in.adec, pkt, frame);
            }
        }

        av_packet_unref(pkt);

        if (++npkts % 256 == 0) {
            sfn_qc_progress(qc, in.duration > 0 && vfirst >= 0
                                ? (vend - vfirst) / in.duration : 0);
        }
    }

    /* a decoder that holds frames back gives its first one when drained */

    if (rc == 0 && !vok) {
        vok = sfn_qc_first_frame(in.vdec, NULL, frame);
    }

    if (rc == 0 && !aok) {
        aok = sfn_qc_first_frame(in.adec, NULL, frame);
    }

    av_packet_free(&pkt);
    av_frame_free(&frame);

    if (rc < 0 || !vok || !aok || in.vindex < 0
        || vframes != (int64_t) sfn_media_number(fig, "frames", -1))
    {
        sfn_media_input_close(&in);
        return NULL;
    }

    st = in.fmt->streams[in.vindex];
    fps = in.fps;

    /* TS packets may carry no duration: the last frame lasts 1/fps */

    if (vend <= vfirst && fps > 0) {
        vend = vfirst + 1 / fps;
    }

    vdur = vfirst >= 0 ? vend - vfirst : 0;
    adur = afirst >= 0 ? aend - afirst : 0;

    r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "errors", cJSON_CreateArray());
    cJSON_AddStringToObject(r, "format", in.fmt->iformat->name);
    cJSON_AddBoolToObject(r, "hasVideo", 1);
    cJSON_AddBoolToObject(r, "hasAudio", in.aindex >= 0);
    cJSON_AddNumberToObject(r, "width", st->codecpar->width);
    cJSON_AddNumberToObject(r, "height", st->codecpar->height);
    cJSON_AddStringToObject(r, "videoCodec",
                            avcodec_get_name(st->codecpar->codec_id));
    cJSON_AddNumberToObject(r, "fps", floor(fps * 1000 + 0.5) / 1000);

    if (in.aindex >= 0) {
        cJSON_AddStringToObject(r, "audioCodec", avcodec_get_name(
            in.fmt->streams[in.aindex]->codecpar->codec_id));
    }

    cJSON_AddNumberToObject(r, "duration",
                            floor((vdur > adur ? vdur : adur) * 1000 + 0.5)
                            / 1000);
    cJSON_AddNumberToObject(r, "videoDuration", floor(vdur * 1000 + .5) / 1000);
    cJSON_AddNumberToObject(r, "audioDuration", floor(adur * 1000 + .5) / 1000);
    cJSON_AddNumberToObject(r, "frames", (double) vframes);
    cJSON_AddNumberToObject(r, "decodeErrors", 0);
    cJSON_AddBoolToObject(r, "decodes", 1);
    cJSON_AddNumberToObject(r, "blackFrames",
                            sfn_media_number(fig, "blackFrames", 0));
    cJSON_AddNumberToObject(r, "blackRatio",
                            sfn_media_number(fig, "blackRatio", 0));
    cJSON_AddNumberToObject(r, "silenceDuration",
                            sfn_media_number(fig, "silenceDuration", 0));
    cJSON_AddNumberToObject(r, "silenceRatio",
                            sfn_media_number(fig, "silenceRatio", 0));
    cJSON_AddNumberToObject(r, "psnr", sfn_media_number(fig, "psnr", 0));
    cJSON_AddNumberToObject(r, "ssim", sfn_media_number(fig, "ssim", 0));
    cJSON_AddStringToObject(r, "measured", "encoder");

    qc->frames += vframes;
    sfn_media_input_close(&in);

    return r;
}


/* one media file or media playlist, decoded in full */

static cJSON *
sfn_qc_media(sfn_qc_t *qc, const char *path, const char *name,
    const char *key, int compare)
{
    int                 rc, step, w, h, errors, vframes, compared;
    int                 black, ref_ok, k, idx, c, i, n;
    char                cause[2048];
    float              *fp;
    cJSON              *r, *errs;
    double              t, first_v, last_v, fdur, psnr, ssim, sum_sse;
    double              sum_pix, sse, pix;
    double              sum_ssim, min_psnr, min_ssim, a_total, a_silent;
    double              rms, first_a, last_a, vdur, adur, fps, s, v;
    int64_t             start_pts;
    AVFrame            *frame, *rf;
    AVCodecContext     *dec;
    AVPacket           *pkt;
    AVStream           *st;
    sfn_qc_ref_t        ref;
    sfn_media_luma_t    luma;
    sfn_media_input_t   in;
    sfn_task_call_t     sub;
    const cJSON        *fig;

    fig = compare && key ? sfn_qc_figures(qc, key) : NULL;

    if (fig) {
        r = sfn_qc_scan(qc, path, name, fig);

        if (r) {
            return r;
        }
    }

    r = cJSON_CreateObject();
    errs = cJSON_AddArrayToObject(r, "errors");

    /* open failures are the output's, not the task's */

    memset(&sub, 0, sizeof(sfn_task_call_t));
    sub.env = qc->call->env;
    sub.input = qc->call->input;

    if (sfn_media_input_open(&sub, &in, path, name, 1) != SFN_TASK_OK) {
        snprintf(cause, sizeof(cause), "%s", sub.cause);
        cJSON_AddItemToArray(errs, cJSON_CreateString(cause));
        cJSON_AddBoolToObject(r, "decodes", 0);
        sfn_media_input_close(&in);
        return r;
    }

    cJSON_AddStringToObject(r, "format", in.fmt->iformat->name);
    cJSON_AddBoolToObject(r, "hasVideo", in.vindex >= 0);
    cJSON_AddBoolToObject(r, "hasAudio", in.aindex >= 0);

    w = 0;
    h = 0;
    fps = 0;

    if (in.vindex >= 0) {
        st = in.fmt->streams[in.vindex];
        w = st->codecpar->width;
        h = st->codecpar->height;
        fps = in.fps;
        cJSON_AddNumberToObject(r, "width", w);
        cJSON_AddNumberToObject(r, "height", h);
        cJSON_AddStringToObject(r, "videoCodec",
                                avcodec_get_name(st->codecpar->codec_id));
        cJSON_AddNumberToObject(r, "fps", floor(fps * 1000 + 0.5) / 1000);
    }

    if (in.aindex >= 0) {
        st = in.fmt->streams[in.aindex];
        cJSON_AddStringToObject(r, "audioCodec",
                                avcodec_get_name(st->codecpar->codec_id));
    }

    ref_ok = 0;

    if (compare && qc->have_src && in.vindex >= 0 && w > 0 && h > 0) {
        ref_ok = sfn_qc_ref_open(qc, &ref, w, h) == 0;

        if (!ref_ok) {
            sfn_qc_ref_close(&ref);
        }
    }

    /* compare at most max_frames frames, evenly spread */

    step = 1;
    if (in.duration > 0 && fps > 0
        && in.duration * fps > qc->conf.max_frames)
    {
        step = (int) ceil(in.duration * fps / qc->conf.max_frames);
    }

    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    errors = 0;
    vframes = 0;
    compared = 0;
    black = 0;
    first_v = -1;
    last_v = 0;
    fdur = 0;
    first_a = -1;
    last_a = 0;
    a_total = 0;
    a_silent = 0;
    sum_sse = 0;
    sum_pix = 0;
    sum_ssim = 0;
    min_psnr = 1000;
    min_ssim = 1;
    start_pts = AV_NOPTS_VALUE;
    rc = 0;

    while (pkt && frame) {
        if (sfn_media_cancelled(qc->call)) {
            rc = AVERROR_EXIT;
            break;
        }

        rc = av_read_frame(in.fmt, pkt);

        if (rc == AVERROR_EOF) {
            rc = 0;
            pkt->stream_index = -1;

        } else if (rc < 0) {
            cJSON_AddItemToArray(errs, cJSON_CreateString(
                                     "the file ends in damaged data"));
            errors++;
            rc = 0;
            pkt->stream_index = -1;
        }

        if (pkt->stream_index >= 0 && pkt->stream_index != in.vindex
            && pkt->stream_index != in.aindex)
        {
            av_packet_unref(pkt);
            continue;
        }

        /* stream_index -1: drain both decoders */

        for (k = 0; k < 2; k++) {
            idx = k == 0 ? in.vindex : in.aindex;
            dec = k == 0 ? in.vdec : in.adec;

            if (dec == NULL
                || (pkt->stream_index >= 0 && pkt->stream_index != idx))
            {
                continue;
            }

            if (avcodec_send_packet(dec, pkt->stream_index >= 0 ? pkt : NULL)
                < 0)
            {
                errors++;
            }

            st = in.fmt->streams[idx];

            for ( ;; ) {
                rc = avcodec_receive_frame(dec, frame);

                if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
                    rc = 0;
                    break;
                }

                if (rc < 0) {
                    errors++;
                    rc = 0;
                    break;
                }

                if (frame->decode_error_flags
                    || (frame->flags & AV_FRAME_FLAG_CORRUPT))
                {
                    errors++;
                }

                t = frame->best_effort_timestamp == AV_NOPTS_VALUE
                    ? 0 : frame->best_effort_timestamp
                          * av_q2d(st->time_base);

                if (k == 1) {
                    if (first_a < 0) {
                        first_a = t;
                    }

                    last_a = t + (double) frame->nb_samples
                                 / frame->sample_rate;

                    /* RMS of planar float audio (AAC decodes to fltp) */

                    s = 0;
                    n = 0;

                    if (frame->format == AV_SAMPLE_FMT_FLTP) {
                        for (c = 0; c < frame->ch_layout.nb_channels; c++) {
                            fp = (float *) frame->extended_data[c];

                            for (i = 0; i < frame->nb_samples; i++) {
                                v = fp[i];
                                s += v * v;
                                n++;
                            }
                        }
                    }

                    rms = n ? sqrt(s / n) : 1;
                    v = (double) frame->nb_samples / frame->sample_rate;
                    a_total += v;

                    if (rms < 0.001) {          /* -60 dBFS */
                        a_silent += v;
                    }

                    av_frame_unref(frame);
                    continue;
                }

                if (start_pts == AV_NOPTS_VALUE) {
                    start_pts = frame->best_effort_timestamp;
                    first_v = t;
                }

                last_v = t;
                fdur = frame->pkt_duration > 0
                       ? frame->pkt_duration * av_q2d(st->time_base)
                       : (fps > 0 ? 1 / fps : 0);
                vframes++;
                qc->frames++;

                if (vframes % 32 == 0) {
                    sfn_qc_progress(qc, in.duration > 0
                                        ? (t - first_v) / in.duration : 0);
                }

                sfn_media_luma(frame, &luma);
                if (luma.black >= 0.98) {
                    black++;
                }

                if (ref_ok && (vframes - 1) % step == 0
                    && frame->format == AV_PIX_FMT_YUV420P
                    && frame->width == w && frame->height == h)
                {
                    rf = sfn_qc_ref_at(&ref, t - first_v);

                    if (rf && rf->width == w && rf->height == h) {
                        sfn_qc_compare(frame, rf, &sse, &pix, &ssim);
                        psnr = sfn_qc_psnr(sse, pix);
                        sum_sse += sse;
                        sum_pix += pix;
                        sum_ssim += ssim;
                        min_psnr = psnr < min_psnr ? psnr : min_psnr;
                        min_ssim = ssim < min_ssim ? ssim : min_ssim;
                        compared++;
                    }
                }

                av_frame_unref(frame);
            }
        }

        if (pkt->stream_index < 0) {
            break;
        }

        av_packet_unref(pkt);
    }

    av_packet_free(&pkt);
    av_frame_free(&frame);

    if (ref_ok) {
        sfn_qc_ref_close(&ref);
    }

    vdur = first_v >= 0 ? last_v - first_v + fdur : 0;
    adur = first_a >= 0 ? last_a - first_a : 0;

    cJSON_AddNumberToObject(r, "duration",
                            floor((vdur > adur ? vdur : adur) * 1000 + 0.5)
                            / 1000);
    cJSON_AddNumberToObject(r, "videoDuration", floor(vdur * 1000 + .5) / 1000);
    cJSON_AddNumberToObject(r, "audioDuration", floor(adur * 1000 + .5) / 1000);
    cJSON_AddNumberToObject(r, "frames", vframes);
    cJSON_AddNumberToObject(r, "decodeErrors", errors);
    cJSON_AddBoolToObject(r, "decodes", errors == 0 && rc == 0
                                        && (vframes > 0 || a_total > 0));
    cJSON_AddNumberToObject(r, "blackFrames", black);
    cJSON_AddNumberToObject(r, "blackRatio",
                            vframes ? floor(1000.0 * black / vframes) / 1000
                                    : 0);
    cJSON_AddNumberToObject(r, "silenceDuration",
                            floor(a_silent * 1000) / 1000);
    cJSON_AddNumberToObject(r, "silenceRatio",
                            a_total > 0 ? floor(1000 * a_silent / a_total)
                                          / 1000 : 0);

    if (compared) {
        cJSON_AddNumberToObject(r, "psnr",
                                floor(sfn_qc_psnr(sum_sse, sum_pix) * 100)
                                / 100);
        cJSON_AddNumberToObject(r, "psnrMin", floor(min_psnr * 100) / 100);
        cJSON_AddNumberToObject(r, "ssim",
                                floor(sum_ssim / compared * 10000) / 10000);
        cJSON_AddNumberToObject(r, "ssimMin", floor(min_ssim * 10000) / 10000);
        cJSON_AddNumberToObject(r, "comparedFrames", compared);

    } else {
        cJSON_AddNullToObject(r, "psnr");
        cJSON_AddNullToObject(r, "ssim");
    }

    if (errors) {
        cJSON_AddItemToArray(errs, cJSON_CreateString(
                                 "decoding reported errors"));
    }

    if (vframes == 0 && a_total == 0) {
        snprintf(cause, sizeof(cause), "\"%s\": no frame could be decoded",
                 name);
        cJSON_AddItemToArray(errs, cJSON_CreateString(cause));
    }

    sfn_media_input_close(&in);

    return r;
}


/* HLS playlists */


typedef struct {
    double                target;
    int                   nsegs;
    double                segs[SFN_QC_MAX_SEGS];
    int                   vod;
    int                   endlist;
    int                   missing;
    int                   too_long;
} sfn_qc_playlist_t;


static int
sfn_qc_dirname(const char *path, char *buf, size_t size)
{
    const char  *p;

    p = strrchr(path, '/');

    return sfn_media_fmt(buf, size, "%.*s", p ? (int) (p - path) : 1,
                         p ? path : ".");
}


static int
sfn_qc_playlist(const char *path, sfn_qc_playlist_t *pl, cJSON *errs)
{
    FILE    *f;
    char     line[2048], dir[SFN_MEDIA_PATH_MAX], seg[SFN_MEDIA_PATH_MAX];
    char     msg[2560];
    double   d;
    int      first;

    memset(pl, 0, sizeof(sfn_qc_playlist_t));

    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }

    sfn_qc_dirname(path, dir, sizeof(dir));

    first = 1;
    d = -1;

    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';

        if (first) {
            first = 0;

            if (strcmp(line, "#EXTM3U") != 0) {
                cJSON_AddItemToArray(errs, cJSON_CreateString(
                                         "playlist does not start with "
                                         "#EXTM3U"));
                fclose(f);
                return -1;
            }

            continue;
        }

        if (strncmp(line, "#EXT-X-TARGETDURATION:", 22) == 0) {
            pl->target = atof(line + 22);

        } else if (strcmp(line, "#EXT-X-PLAYLIST-TYPE:VOD") == 0) {
            pl->vod = 1;

        } else if (strcmp(line, "#EXT-X-ENDLIST") == 0) {
            pl->endlist = 1;

        } else if (strncmp(line, "#EXTINF:", 8) == 0) {
            d = atof(line + 8);

        } else if (strncmp(line, "#EXT-X-MAP:URI=\"", 16) == 0) {
            line[strcspn(line + 16, "\"") + 16] = '\0';
            sfn_media_fmt(seg, sizeof(seg), "%s/%s", dir, line + 16);

            if (sfn_media_file_size(seg) <= 0) {
                sfn_media_fmt(msg, sizeof(msg), "init segment \"%s\" is "
                              "missing", line + 16);
                cJSON_AddItemToArray(errs, cJSON_CreateString(msg));
                pl->missing++;
            }

        } else if (line[0] != '#' && line[0] != '\0') {
            sfn_media_fmt(seg, sizeof(seg), "%s/%s", dir, line);

            if (sfn_media_file_size(seg) <= 0) {
                sfn_media_fmt(msg, sizeof(msg), "segment \"%s\" is missing "
                              "or empty", line);
                cJSON_AddItemToArray(errs, cJSON_CreateString(msg));
                pl->missing++;
            }

            if (d < 0) {
                cJSON_AddItemToArray(errs, cJSON_CreateString(
                                         "segment without #EXTINF"));
                pl->missing++;
            }

            if (pl->nsegs < SFN_QC_MAX_SEGS) {
                pl->segs[pl->nsegs++] = d;
            }

            /* RFC 8216: EXTINF rounded must not exceed the target */

            if (d >= 0 && floor(d + 0.5) > pl->target) {
                pl->too_long++;
            }

            d = -1;
        }
    }

    fclose(f);

    return 0;
}


static int
sfn_qc_is_master(const char *path)
{
    FILE  *f;
    char   line[2048];
    int    master;

    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }

    master = 0;

    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "#EXT-X-STREAM-INF:", 18) == 0) {
            master = 1;
            break;
        }
    }

    fclose(f);

    return master;
}


/* checks and scores */


static int
sfn_qc_check(cJSON *checks, const char *name, int ok)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(checks, name);

    if (item == NULL) {
        cJSON_AddBoolToObject(checks, name, ok);
        return ok;
    }

    /* a check of several renditions holds when it holds for each */

    if (cJSON_IsTrue(item) && !ok) {
        cJSON_ReplaceItemInObjectCaseSensitive(checks, name,
                                               cJSON_CreateFalse());
    }

    return ok;
}


static void
sfn_qc_media_checks(sfn_qc_t *qc, cJSON *m, cJSON *checks, int video)
{
    int           ok;
    double        d, fps, aspect, w, h;
    const cJSON  *item;

    sfn_qc_check(checks, "decodes",
                 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "decodes")));

    /* an audio-only rendition: its audio is checked, nothing else */

    if (!video) {
        ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "hasAudio"));
        sfn_qc_check(checks, "audio", ok);

        if (qc->have_src) {
            d = sfn_media_number(m, "duration", 0);
            sfn_qc_check(checks, "duration",
                         fabs(d - qc->src_duration) <= qc->conf.tolerance);
        }

        if (ok) {
            sfn_qc_check(checks, "notSilent",
                         sfn_media_number(m, "silenceRatio", 1)
                         <= qc->conf.max_silence);
        }

        return;
    }

    sfn_qc_check(checks, "video",
                 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m,
                                                               "hasVideo")));

    if (qc->have_src) {
        sfn_qc_check(checks, "audio", !qc->src_audio
                     || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m,
                                                               "hasAudio")));

        d = sfn_media_number(m, "duration", 0);
        sfn_qc_check(checks, "duration",
                     fabs(d - qc->src_duration) <= qc->conf.tolerance);

        fps = sfn_media_number(m, "fps", 0);
        sfn_qc_check(checks, "frameRate", qc->src_fps <= 0
                     || fabs(fps - qc->src_fps) <= qc->src_fps * 0.02);

        w = sfn_media_number(m, "width", 0);
        h = sfn_media_number(m, "height", 0);
        aspect = h > 0 ? w / h : 0;

        /* fitted and padded: the picture keeps the source's shape */

        ok = w >= 2 && h >= 2 && (qc->src_aspect <= 0
             || fabs(aspect - qc->src_aspect) <= qc->src_aspect * 0.05);
        sfn_qc_check(checks, "resolution", ok);

        item = cJSON_GetObjectItemCaseSensitive(m, "psnr");
        sfn_qc_check(checks, "psnr", cJSON_IsNumber(item)
                     && item->valuedouble >= qc->conf.min_psnr);

        item = cJSON_GetObjectItemCaseSensitive(m, "ssim");
        sfn_qc_check(checks, "ssim", cJSON_IsNumber(item)
                     && item->valuedouble >= qc->conf.min_ssim);

    } else {
        w = sfn_media_number(m, "width", 0);
        sfn_qc_check(checks, "resolution", w >= 2);
    }

    sfn_qc_check(checks, "notBlack",
                 sfn_media_number(m, "blackRatio", 1) <= qc->conf.max_black);

    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "hasAudio"))) {
        sfn_qc_check(checks, "notSilent",
                     sfn_media_number(m, "silenceRatio", 1)
                     <= qc->conf.max_silence);
    }
}


/*
 * A variant the master declares audio only: a CODECS attribute that names
 * no video codec, and no RESOLUTION (RFC 8216 4.3.4.2).
 */

static int
sfn_qc_audio_only(const char *attrs)
{
    int          i;
    size_t       n;
    const char  *p;

    static const char  *audio[] = { "mp4a.", "ac-3", "ec-3", "opus", "fLaC" };

    p = strstr(attrs, "CODECS=\"");

    if (p == NULL || strstr(attrs, "RESOLUTION=") != NULL) {
        return 0;
    }

    p += 8;

    if (*p == '"' || *p == '\0') {
        return 0;
    }

    for ( /* void */ ; *p && *p != '"'; p += n + (p[n] == ',')) {
        n = strcspn(p, ",\"");

        for (i = 0; i < (int) (sizeof(audio) / sizeof(audio[0])); i++) {
            if (n >= strlen(audio[i])
                && strncmp(p, audio[i], strlen(audio[i])) == 0)
            {
                break;
            }
        }

        if (i == (int) (sizeof(audio) / sizeof(audio[0]))) {
            return 0;
        }
    }

    return 1;
}


static void
sfn_qc_hls(sfn_qc_t *qc, const char *path, const char *key, cJSON *res,
    cJSON *checks, cJSON *rends, cJSON *errs)
{
    int                 i, j, n, ok, aligned, nv, audio, v_audio;
    FILE               *f;
    char                line[2048], dir[SFN_MEDIA_PATH_MAX];
    char                vpath[SFN_MEDIA_PATH_MAX], msg[2560];
    char                vkey[SFN_MEDIA_PATH_MAX];
    cJSON              *m, *e;
    double              total, a, b;
    sfn_qc_playlist_t  *pl, *first;

    pl = malloc(sizeof(sfn_qc_playlist_t) * 2);
    if (pl == NULL) {
        return;
    }

    first = &pl[1];
    aligned = 1;
    nv = 0;

    sfn_qc_dirname(path, dir, sizeof(dir));

    f = fopen(path, "r");

    qc->var_i = 0;
    qc->nvars = 0;

    while (f && fgets(line, sizeof(line), f)) {
        qc->nvars += line[0] != '#' && line[0] != '\r' && line[0] != '\n';
    }

    if (f) {
        rewind(f);
    }

    audio = 0;

    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';

        if (strncmp(line, "#EXT-X-STREAM-INF:", 18) == 0) {
            audio = sfn_qc_audio_only(line + 18);
            continue;
        }

        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }

        v_audio = audio;
        audio = 0;

        if (sfn_media_fmt(vpath, sizeof(vpath), "%s/%s", dir, line) < 0) {
            continue;
        }

        e = cJSON_CreateArray();

        if (sfn_qc_playlist(vpath, &pl[0], e) != 0) {
            sfn_media_fmt(msg, sizeof(msg), "variant \"%s\" cannot be read",
                          line);
            cJSON_AddItemToArray(e, cJSON_CreateString(msg));
            m = cJSON_CreateObject();
            cJSON_AddBoolToObject(m, "decodes", 0);
            ok = 0;
            pl[0].nsegs = 0;

        } else {
            sfn_media_fmt(vkey, sizeof(vkey), "%.*s%s",
                          strrchr(key, '/') ? (int) (strrchr(key, '/')
                                                     - key + 1) : 0,
                          key, line);
            m = sfn_qc_media(qc, vpath, line, vkey, !v_audio);
            ok = pl[0].missing == 0 && pl[0].endlist && pl[0].target > 0;
        }

        cJSON_AddStringToObject(m, "playlist", line);

        total = 0;
        for (i = 0; i < pl[0].nsegs; i++) {
            total += pl[0].segs[i] > 0 ? pl[0].segs[i] : 0;
        }

        cJSON_AddNumberToObject(m, "segments", pl[0].nsegs);
        cJSON_AddNumberToObject(m, "targetDuration", pl[0].target);
        cJSON_AddNumberToObject(m, "playlistDuration",
                                floor(total * 1000 + 0.5) / 1000);
        cJSON_AddBoolToObject(m, "vod", pl[0].vod);

        sfn_qc_check(checks, "playlist", ok && pl[0].vod);
        sfn_qc_check(checks, "segments", pl[0].missing == 0
                                         && pl[0].nsegs > 0);
        sfn_qc_check(checks, "segmentDurations", pl[0].too_long == 0);

        if (pl[0].too_long) {
            cJSON_AddItemToArray(e, cJSON_CreateString(
                                     "a segment is longer than the target "
                                     "duration"));
        }

        /*
         * segment boundaries agree across renditions, within 0.1 s, where
         * both have media: a rendition whose media runs on past the end of
         * the other (audio a few frames longer than the video, across a
         * boundary) ends with one segment more, that starts where the
         * other ends
         */

        if (nv == 0) {
            memcpy(first, &pl[0], sizeof(sfn_qc_playlist_t));

        } else if (abs(first->nsegs - pl[0].nsegs) > 1) {
            aligned = 0;

        } else {
            a = 0;
            b = 0;
            n = first->nsegs < pl[0].nsegs ? first->nsegs : pl[0].nsegs;

            for (j = 0; j < n; j++) {
                a += first->segs[j];
                b += pl[0].segs[j];

                if (fabs(a - b) > 0.1) {
                    aligned = 0;
                }
            }
        }

        nv++;

        for (i = 0; i < cJSON_GetArraySize(e); i++) {
            cJSON_AddItemToArray(errs, cJSON_Duplicate(
                                     cJSON_GetArrayItem(e, i), 1));
        }

        cJSON_Delete(cJSON_DetachItemFromObject(m, "errors"));
        cJSON_AddItemToObject(m, "errors", e);

        if (v_audio) {
            cJSON_AddBoolToObject(m, "audioOnly", 1);
        }

        sfn_qc_media_checks(qc, m, checks, !v_audio);
        cJSON_AddItemToArray(rends, m);

        qc->var_i++;
        sfn_qc_progress(qc, 0);
    }

    if (f) {
        fclose(f);
    }

    qc->var_i = 0;
    qc->nvars = 0;

    if (nv == 0) {
        sfn_qc_check(checks, "playlist", 0);
        sfn_media_fmt(msg, sizeof(msg), "\"%s\" lists no variant", key);
        cJSON_AddItemToArray(errs, cJSON_CreateString(msg));
    }

    sfn_qc_check(checks, "aligned", aligned);

    if (!aligned) {
        cJSON_AddItemToArray(errs, cJSON_CreateString(
                                 "renditions are not aligned"));
    }

    (void) res;
    free(pl);
}


static int
sfn_qc_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/*
 * The files an output names: the key itself, or, when the key is not a
 * file (the seed passes "mp4/<job>/output"), the files of its format in
 * the key's folder.
 */

static int
sfn_qc_files(const char *path, const char *format, char ***files)
{
    int             n, cap, hls;
    DIR            *dir;
    char            d[SFN_MEDIA_PATH_MAX], f[SFN_MEDIA_PATH_MAX];
    char          **list, **p;
    size_t          len;
    const char     *ext;
    struct stat     sb;
    struct dirent  *de;

    *files = NULL;

    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        list = malloc(sizeof(char *));
        if (list == NULL) {
            return 0;
        }

        list[0] = strdup(path);
        *files = list;

        return list[0] ? 1 : 0;
    }

    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        sfn_media_fmt(d, sizeof(d), "%s", path);

    } else {
        sfn_qc_dirname(path, d, sizeof(d));
    }

    hls = strcmp(format, "hls") == 0;
    ext = hls ? ".m3u8" : strcmp(format, "thumbnails") == 0 ? ".jpg"
                                                            : ".mp4";

    dir = opendir(d);
    if (dir == NULL) {
        return 0;
    }

    n = 0;
    cap = 0;
    list = NULL;

    while ((de = readdir(dir)) != NULL) {
        len = strlen(de->d_name);

        if (de->d_name[0] == '.' || len < strlen(ext)
            || strcmp(de->d_name + len - strlen(ext), ext) != 0)
        {
            continue;
        }

        if (sfn_media_fmt(f, sizeof(f), "%s/%s", d, de->d_name) < 0) {
            continue;
        }

        if (hls && !sfn_qc_is_master(f)) {
            continue;
        }

        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            p = realloc(list, cap * sizeof(char *));

            if (p == NULL) {
                break;
            }

            list = p;
        }

        list[n] = strdup(f);
        if (list[n]) {
            n++;
        }
    }

    closedir(dir);

    if (n) {
        qsort(list, n, sizeof(char *), sfn_qc_cmp);
    }

    *files = list;

    return n;
}


static double
sfn_qc_score(cJSON *checks, int *passed)
{
    int     n, ok;
    cJSON  *item;

    n = 0;
    ok = 0;

    cJSON_ArrayForEach(item, checks) {
        n++;
        ok += cJSON_IsTrue(item);
    }

    *passed = n > 0 && ok == n;

    return n ? (double) ok / n : 0;
}


static cJSON *
sfn_qc_output(sfn_qc_t *qc, const cJSON *o)
{
    int           i, n, passed, is_master, hls;
    char          path[SFN_MEDIA_PATH_MAX], **files;
    cJSON        *res, *checks, *rends, *errs, *m, *item;
    double        score, psnr, ssim;
    const char   *bucket, *key, *format, *name, *root;
    const cJSON  *v;
    sfn_task_call_t  sub;

    bucket = sfn_task_string(o, "bucket");
    key = sfn_task_string(o, "key");
    format = sfn_task_string(o, "format");

    res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "bucket", bucket ? bucket : "");
    cJSON_AddStringToObject(res, "key", key ? key : "");
    cJSON_AddStringToObject(res, "format", format ? format : "");
    checks = cJSON_AddObjectToObject(res, "checks");
    rends = cJSON_AddArrayToObject(res, "renditions");
    errs = cJSON_AddArrayToObject(res, "errors");

    memset(&sub, 0, sizeof(sfn_task_call_t));
    sub.env = qc->call->env;

    if (format == NULL) {
        format = key && strstr(key, ".m3u8") ? "hls" : "mp4";
    }

    hls = strcmp(format, "hls") == 0;

    if (sfn_task_bucket_path(&sub, bucket, key, path, sizeof(path)) == NULL) {
        cJSON_AddItemToArray(errs, cJSON_CreateString(sub.cause));
        n = 0;
        files = NULL;

    } else {
        n = sfn_qc_files(path, format, &files);
    }

    sfn_qc_check(checks, "exists", n > 0);

    qc->bucket = bucket;
    qc->nfiles = n;

    if (n == 0 && errs->child == NULL) {
        cJSON_AddItemToArray(errs, cJSON_CreateString("no output found"));
    }

    root = qc->call->env && qc->call->env->bucket_path && bucket
           ? qc->call->env->bucket_path(qc->call->env->data, bucket) : NULL;

    for (i = 0; i < n; i++) {
        qc->file_i = i;
        sfn_qc_progress(qc, 0);

        name = root && strncmp(files[i], root, strlen(root)) == 0
               ? files[i] + strlen(root) + 1 : files[i];

        is_master = hls && sfn_qc_is_master(files[i]);

        if (is_master) {
            sfn_qc_hls(qc, files[i], name, res, checks, rends, errs);
            continue;
        }

        m = sfn_qc_media(qc, files[i],
                         strrchr(name, '/') ? strrchr(name, '/') + 1 : name,
                         name, strcmp(format, "thumbnails") != 0);
        cJSON_AddStringToObject(m, "key", name);

        for (v = cJSON_GetObjectItemCaseSensitive(m, "errors")->child; v;
             v = v->next)
        {
            cJSON_AddItemToArray(errs, cJSON_Duplicate(v, 1));
        }

        if (strcmp(format, "thumbnails") == 0) {
            sfn_qc_check(checks, "decodes", cJSON_IsTrue(
                cJSON_GetObjectItemCaseSensitive(m, "decodes")));
            sfn_qc_check(checks, "resolution",
                         sfn_media_number(m, "width", 0) >= 2);
            sfn_qc_check(checks, "notBlack",
                         sfn_media_number(m, "blackRatio", 1)
                         <= qc->conf.max_black);

        } else {
            sfn_qc_media_checks(qc, m, checks, 1);
        }

        cJSON_AddItemToArray(rends, m);
    }

    for (i = 0; i < n; i++) {
        free(files[i]);
    }

    free(files);

    qc->file_i = 0;
    qc->nfiles = 0;

    /* the weakest rendition speaks for the output */

    psnr = -1;
    ssim = -1;

    cJSON_ArrayForEach(item, rends) {
        v = cJSON_GetObjectItemCaseSensitive(item, "psnr");
        if (cJSON_IsNumber(v) && (psnr < 0 || v->valuedouble < psnr)) {
            psnr = v->valuedouble;
        }

        v = cJSON_GetObjectItemCaseSensitive(item, "ssim");
        if (cJSON_IsNumber(v) && (ssim < 0 || v->valuedouble < ssim)) {
            ssim = v->valuedouble;
        }
    }

    m = cJSON_AddObjectToObject(res, "metrics");

    if (psnr >= 0) {
        cJSON_AddNumberToObject(m, "psnr", psnr);
        cJSON_AddNumberToObject(m, "ssim", ssim);

    } else {
        cJSON_AddNullToObject(m, "psnr");
        cJSON_AddNullToObject(m, "ssim");
    }

    cJSON_AddNumberToObject(m, "files", n);

    score = sfn_qc_score(checks, &passed);
    cJSON_AddNumberToObject(res, "score", floor(score * 1000 + 0.5) / 1000);
    cJSON_AddBoolToObject(res, "passed", passed);

    return res;
}


/*
 * {"jobId", "outputs": [{"format", "bucket", "key"}],
 *  "metadata"?: the probe's summary (its "bucket" and "key" name the
 *  source), "source"?: {"bucket", "key"},
 *  "minPsnr": 30, "minSsim": 0.9, "minScore": 0.8, "durationTolerance": 0.5,
 *  "maxBlackRatio": 0.5, "maxSilenceRatio": 0.95, "maxFrames": 300}
 */

int
sfn_media_qc(sfn_task_call_t *call)
{
    int                 i, n, all, passed;
    cJSON              *out, *results, *r, *th, *attrs;
    double              sum, score;
    AVStream           *st;
    const char         *bucket, *key;
    const cJSON        *outputs, *src, *item, *conf;
    sfn_qc_t            qc;
    sfn_media_input_t   in;

    sfn_media_init();

    memset(&qc, 0, sizeof(sfn_qc_t));
    qc.call = call;

    conf = cJSON_GetObjectItemCaseSensitive(call->input, "thresholds");
    if (conf == NULL) {
        conf = call->input;
    }

    qc.conf.min_psnr = sfn_media_number(conf, "minPsnr", 30);
    qc.conf.min_ssim = sfn_media_number(conf, "minSsim", 0.9);
    qc.conf.min_score = sfn_media_number(conf, "minScore", 0.8);
    qc.conf.tolerance = sfn_media_number(conf, "durationTolerance", 0.5);
    qc.conf.max_black = sfn_media_number(conf, "maxBlackRatio", 0.5);
    qc.conf.max_silence = sfn_media_number(conf, "maxSilenceRatio", 0.95);
    qc.conf.max_frames = (int) sfn_media_number(conf, "maxFrames", 300);

    if (qc.conf.max_frames < 1) {
        qc.conf.max_frames = 1;
    }

    outputs = cJSON_GetObjectItemCaseSensitive(call->input, "outputs");

    if (!cJSON_IsArray(outputs)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"outputs\" must be an array of "
                             "{\"format\", \"bucket\", \"key\"}");
    }

    src = cJSON_GetObjectItemCaseSensitive(call->input, "source");
    if (src == NULL) {
        src = cJSON_GetObjectItemCaseSensitive(call->input, "metadata");
    }

    bucket = sfn_task_string(src, "bucket");
    key = sfn_task_string(src, "key");

    /* a missing or broken source fails the task: nothing to compare with */

    if (bucket && key) {
        if (sfn_task_bucket_path(call, bucket, key, qc.src_path,
                                 sizeof(qc.src_path))
            == NULL)
        {
            return SFN_TASK_FAILED;
        }

        qc.src_name = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;

        if (sfn_media_input_open(call, &in, qc.src_path, qc.src_name, 0)
            != SFN_TASK_OK)
        {
            sfn_media_input_close(&in);
            return SFN_TASK_FAILED;
        }

        qc.have_src = 1;
        qc.src_duration = in.duration;
        qc.src_fps = in.fps;
        qc.src_audio = in.aindex >= 0;

        if (in.vindex >= 0) {
            st = in.fmt->streams[in.vindex];
            qc.src_aspect = in.rotation % 180
                ? (double) st->codecpar->height / st->codecpar->width
                : (double) st->codecpar->width / st->codecpar->height;
        }

        sfn_media_input_close(&in);

    } else {
        call->cause[0] = '\0';
    }

    out = cJSON_CreateObject();

    item = cJSON_GetObjectItemCaseSensitive(call->input, "jobId");
    if (item) {
        cJSON_AddItemToObject(out, "jobId", cJSON_Duplicate(item, 1));
    }

    results = cJSON_AddArrayToObject(out, "qualityResults");

    n = cJSON_GetArraySize(outputs);
    sum = 0;
    all = n > 0;

    qc.transcode = cJSON_GetObjectItemCaseSensitive(call->input, "transcode");
    qc.nouts = n;
    qc.started = sfn_media_now();

    for (i = 0; i < n; i++) {
        qc.out_i = i;

        r = sfn_qc_output(&qc, cJSON_GetArrayItem(outputs, i));
        cJSON_AddItemToArray(results, r);

        if (sfn_media_cancelled(call)) {
            cJSON_Delete(out);
            return sfn_task_fail(call, "States.Timeout", "qc: cancelled");
        }

        sum += sfn_media_number(r, "score", 0);
        all &= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "passed"));
    }

    score = n ? sum / n : 0;
    passed = all && score >= qc.conf.min_score;

    cJSON_AddNumberToObject(out, "qualityScore",
                            floor(score * 1000 + 0.5) / 1000);
    cJSON_AddBoolToObject(out, "passed", passed);
    cJSON_AddNumberToObject(out, "statusCode", 200);

    th = cJSON_AddObjectToObject(out, "thresholds");
    cJSON_AddNumberToObject(th, "minPsnr", qc.conf.min_psnr);
    cJSON_AddNumberToObject(th, "minSsim", qc.conf.min_ssim);
    cJSON_AddNumberToObject(th, "minScore", qc.conf.min_score);
    cJSON_AddNumberToObject(th, "durationTolerance", qc.conf.tolerance);
    cJSON_AddNumberToObject(th, "maxBlackRatio", qc.conf.max_black);
    cJSON_AddNumberToObject(th, "maxSilenceRatio", qc.conf.max_silence);

    cJSON_AddItemToObject(out, "outputs", cJSON_Duplicate(outputs, 1));

    item = cJSON_GetObjectItemCaseSensitive(call->input, "metadata");
    if (item) {
        cJSON_AddItemToObject(out, "metadata", cJSON_Duplicate(item, 1));
    }

    /* the source, for the states after QC (ArchiveSource reads $.key) */

    if (bucket && key) {
        cJSON_AddStringToObject(out, "bucket", bucket);
        cJSON_AddStringToObject(out, "key", key);
    }

    call->output = out;

    attrs = cJSON_CreateObject();
    if (attrs == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    cJSON_AddItemToObject(attrs, "QualityResults",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(out,
                                                         "qualityResults"),
                        1));
    cJSON_AddItemToObject(attrs, "QualityScore",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(out,
                                                         "qualityScore"),
                        1));
    cJSON_AddBoolToObject(attrs, "QualityPassed", passed);

    return sfn_media_job_record(call, attrs, "QCCompletedAt");
}
