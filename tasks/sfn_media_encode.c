
/*
 * Copyright (C) ngx_sfn authors
 *
 * The encoders of a transcoding job: each video rendition scaled and
 * encoded with libx264 on its own thread, fed from a bounded queue; AAC
 * through a resampler and a FIFO of whole frames; JPEG frame captures.
 * Packets go to the muxers through sfn_media_drain().
 */


#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "sfn_media_job.h"


void
sfn_media_job_error(sfn_media_job_t *job, const char *what, int err)
{
    char  buf[AV_ERROR_MAX_STRING_SIZE];

    av_strerror(err, buf, sizeof(buf));

    pthread_mutex_lock(&job->err_mutex);

    if (job->err[0] == '\0') {
        snprintf(job->err, sizeof(job->err), "%s: %s", what, buf);
    }

    pthread_mutex_unlock(&job->err_mutex);
}


/* encoders */


static void
sfn_media_h264_codecs(sfn_media_rend_t *r)
{
    int             i, n;
    const uint8_t  *d;

    d = r->enc->extradata;
    n = r->enc->extradata_size;

    snprintf(r->codecs, sizeof(r->codecs), "avc1.64001f");

    if (d == NULL || n < 4) {
        return;
    }

    /* avcC: version, profile, compatibility, level */

    if (d[0] == 1) {
        snprintf(r->codecs, sizeof(r->codecs), "avc1.%02x%02x%02x",
                 d[1], d[2], d[3]);
        return;
    }

    /* Annex B: the first SPS NAL unit */

    for (i = 0; i + 6 < n; i++) {
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1
            && (d[i + 3] & 0x1f) == 7)
        {
            snprintf(r->codecs, sizeof(r->codecs), "avc1.%02x%02x%02x",
                     d[i + 4], d[i + 5], d[i + 6]);
            return;
        }
    }
}


static int
sfn_media_rend_size(sfn_media_job_t *job, sfn_media_rend_t *r)
{
    int  sw, sh, w;

    sw = job->in.vdec->width;
    sh = job->in.vdec->height;

    if (job->in.rotation % 180) {
        w = sw;
        sw = sh;
        sh = w;
    }

    /* the plan fitted to the source has resolved the size already */

    sfn_media_fit_size(sw, sh, r->spec.width, r->spec.height, &r->ow,
                       &r->oh);

    if (r->ow < 2 || r->oh < 2) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "rendition size %dx%d is too small", r->ow,
                             r->oh);
    }

    /* a source may claim any size: outputs stay within what we encode */

    if (r->ow > SFN_MEDIA_MAX_SIZE || r->oh > SFN_MEDIA_MAX_SIZE) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "\"%s\": rendition size %dx%d is larger than "
                             "%dx%d", job->set.src_name, r->ow, r->oh,
                             SFN_MEDIA_MAX_SIZE, SFN_MEDIA_MAX_SIZE);
    }

    return SFN_TASK_OK;
}


int
sfn_media_rend_open(sfn_media_job_t *job, sfn_media_rend_t *r)
{
    int               rc;
    char              chain[512], buf[64];
    AVStream         *st;
    AVRational        fr;
    AVDictionary     *opts;
    const AVCodec    *codec;
    AVCodecContext   *dec, *c;

    dec = job->in.vdec;
    st = job->in.fmt->streams[job->in.vindex];

    if (sfn_media_rend_size(job, r) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    sfn_media_scale_chain(chain, sizeof(chain), job->in.rotation, r->ow,
                          r->oh, "yuv420p");

    rc = sfn_media_filter_init(&r->filter, dec, st->time_base, chain);
    if (rc < 0) {
        return sfn_media_fail_av(job->call, job->set.src_name,
                                 "cannot build the scaler", rc);
    }

    codec = avcodec_find_encoder_by_name("libx264");
    if (codec == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "libx264 is not available");
    }

    c = avcodec_alloc_context3(codec);
    if (c == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed", "out of memory");
    }

    r->enc = c;

    fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) {
        fr = (AVRational) { 25, 1 };
    }

    c->width = r->ow;
    c->height = r->oh;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->sample_aspect_ratio = (AVRational) { 1, 1 };
    c->time_base = st->time_base;
    c->framerate = fr;
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    c->thread_count = 0;
    c->color_primaries = dec->color_primaries;
    c->color_trc = dec->color_trc;
    c->colorspace = dec->colorspace;
    c->color_range = AVCOL_RANGE_MPEG;

    /*
     * Closed GOPs of one length in every rendition: an IDR frame is forced
     * every key frame interval and on every segment boundary, and x264
     * neither cuts on scenes nor, with twice the interval as its own
     * limit, places one elsewhere; so all renditions switch at the same
     * instants.
     */

    c->gop_size = (int) (2 * av_q2d(fr) * job->set.keyint + 0.5);
    if (c->gop_size < 1) {
        c->gop_size = 1;
    }

    /* QC inside the encode: x264 measures its reconstruction */

    c->flags |= AV_CODEC_FLAG_PSNR;

    if (r->spec.bitrate > 0) {
        c->bit_rate = r->spec.bitrate;
    }

    if (r->spec.maxrate > 0) {
        c->rc_max_rate = r->spec.maxrate;
        c->rc_buffer_size = (int) r->spec.bufsize;
    }

    opts = NULL;
    av_dict_set(&opts, "preset", r->spec.preset, 0);
    av_dict_set(&opts, "profile", r->spec.profile, 0);
    av_dict_set(&opts, "forced-idr", "1", 0);
    av_dict_set(&opts, "ssim", "1", 0);
    av_dict_set(&opts, "x264-params", "scenecut=0:open-gop=0", 0);

    if (r->spec.level[0]) {
        av_dict_set(&opts, "level", r->spec.level, 0);
    }

    if (r->spec.crf >= 0) {
        snprintf(buf, sizeof(buf), "%d", r->spec.crf);
        av_dict_set(&opts, "crf", buf, 0);
    }

    rc = avcodec_open2(c, codec, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        return sfn_media_fail_av(job->call, job->set.src_name,
                                 "cannot open the H.264 encoder", rc);
    }

    sfn_media_h264_codecs(r);

    r->direct = job->in.rotation == 0 && dec->width == r->ow
                && dec->height == r->oh && dec->pix_fmt == AV_PIX_FMT_YUV420P;

    r->key_step = av_rescale_q((int64_t) (job->set.keyint * 1000),
                               (AVRational) { 1, 1000 }, c->time_base);
    r->next_key = 0;
    r->next_cut = 0;
    r->last_pts = AV_NOPTS_VALUE;
    r->job = job;

    return SFN_TASK_OK;
}


int
sfn_media_aenc_open(sfn_media_job_t *job, sfn_media_aenc_t *a)
{
    int               rc;
    AVCodecContext   *dec, *c;
    const AVCodec    *codec;

    dec = job->in.adec;

    codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (codec == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "no AAC encoder");
    }

    c = avcodec_alloc_context3(codec);
    if (c == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed", "out of memory");
    }

    a->enc = c;

    c->sample_rate = a->spec.sample_rate;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->bit_rate = a->spec.bitrate;
    c->time_base = (AVRational) { 1, a->spec.sample_rate };
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_channel_layout_default(&c->ch_layout, a->spec.channels);

    rc = avcodec_open2(c, codec, NULL);
    if (rc < 0) {
        return sfn_media_fail_av(job->call, job->set.src_name,
                                 "cannot open the AAC encoder", rc);
    }

    rc = swr_alloc_set_opts2(&a->swr, &c->ch_layout, c->sample_fmt,
                             c->sample_rate, &dec->ch_layout, dec->sample_fmt,
                             dec->sample_rate, 0, NULL);
    if (rc < 0 || (rc = swr_init(a->swr)) < 0) {
        return sfn_media_fail_av(job->call, job->set.src_name,
                                 "cannot build the resampler", rc);
    }

    a->fifo = av_audio_fifo_alloc(c->sample_fmt, c->ch_layout.nb_channels,
                                  c->frame_size * 4);
    a->frame = av_frame_alloc();

    if (a->fifo == NULL || a->frame == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed", "out of memory");
    }

    return SFN_TASK_OK;
}


/* video: scale and encode, on the rendition's own thread */


/* a picture of the rendition's size and format to the encoder */

static int
sfn_media_rend_send(sfn_media_rend_t *r, AVFrame *f)
{
    int               rc;
    sfn_media_luma_t  luma;

    /* strictly increasing timestamps, whatever the source did */

    if (r->last_pts != AV_NOPTS_VALUE && f->pts <= r->last_pts) {
        f->pts = r->last_pts + 1;
    }

    r->last_pts = f->pts;

    f->pict_type = AV_PICTURE_TYPE_NONE;

    if (f->pts >= r->next_key || f->pts >= r->next_cut) {
        f->pict_type = AV_PICTURE_TYPE_I;

        while (r->next_key <= f->pts && r->key_step > 0) {
            r->next_key += r->key_step;
        }

        r->next_cut = sfn_media_seg_cut(&r->job->set, f->pts,
                                        r->enc->time_base);
    }

    if (r->analyse) {
        sfn_media_luma(f, &luma);

        if (luma.black >= 0.98) {
            r->black++;
        }
    }

    r->frames++;

    rc = avcodec_send_frame(r->enc, f);
    av_frame_unref(f);

    if (rc < 0) {
        return rc;
    }

    return sfn_media_drain(r->job, r->enc, 1, (int) (r - r->job->rends),
                           &r->bytes);
}


/*
 * Scales and encodes a decoded frame (its own reference, taken), or
 * flushes at NULL.  A frame already of the rendition's size and format,
 * upright, is the picture: the scaler would pass it through unchanged,
 * and the padding after it would copy it whole, the decoder still holding
 * it.
 */

static int
sfn_media_rend_encode(sfn_media_rend_t *r, AVFrame *in)
{
    int       rc;
    AVFrame  *f;

    f = av_frame_alloc();
    if (f == NULL) {
        return AVERROR(ENOMEM);
    }

    if (in && r->direct && in->width == r->ow && in->height == r->oh
        && in->format == AV_PIX_FMT_YUV420P)
    {
        av_frame_move_ref(f, in);
        rc = sfn_media_rend_send(r, f);
        av_frame_free(&f);

        return rc;
    }

    rc = av_buffersrc_add_frame_flags(r->filter.src, in, 0);

    while (rc >= 0) {
        rc = av_buffersink_get_frame(r->filter.sink, f);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc >= 0) {
            rc = sfn_media_rend_send(r, f);
        }
    }

    av_frame_free(&f);

    if (rc == 0 && in == NULL) {
        rc = avcodec_send_frame(r->enc, NULL);

        if (rc == 0) {
            rc = sfn_media_drain(r->job, r->enc, 1, (int) (r - r->job->rends),
                                 &r->bytes);
        }

        if (rc == 0) {
            sfn_media_enc_close(r->enc, &r->stats);
        }
    }

    return rc;
}


static void *
sfn_media_rend_thread(void *data)
{
    int                rc;
    AVFrame           *f;
    sfn_media_rend_t  *r = data;

    for ( ;; ) {
        pthread_mutex_lock(&r->mutex);

        while (r->count == 0 && !r->eof) {
            pthread_cond_wait(&r->cond, &r->mutex);
        }

        if (r->count == 0) {
            pthread_mutex_unlock(&r->mutex);
            break;
        }

        f = r->queue[r->head];
        r->head = (r->head + 1) % SFN_MEDIA_QUEUE;
        r->count--;

        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mutex);

        rc = r->err ? 0 : sfn_media_rend_encode(r, f);
        av_frame_free(&f);

        if (rc < 0) {
            sfn_media_job_error(r->job, "encoding failed", rc);
            r->err = rc;
        }
    }

    if (!r->err) {
        rc = sfn_media_rend_encode(r, NULL);

        if (rc < 0) {
            sfn_media_job_error(r->job, "encoding failed", rc);
            r->err = rc;
        }
    }

    return NULL;
}


int
sfn_media_rend_start(sfn_media_rend_t *r)
{
    pthread_mutex_init(&r->mutex, NULL);
    pthread_cond_init(&r->cond, NULL);

    if (pthread_create(&r->tid, NULL, sfn_media_rend_thread, r) != 0) {
        pthread_mutex_destroy(&r->mutex);
        pthread_cond_destroy(&r->cond);
        return -1;
    }

    r->running = 1;

    return 0;
}


int
sfn_media_rend_push(sfn_media_rend_t *r, AVFrame *frame)
{
    AVFrame  *f;

    f = av_frame_clone(frame);
    if (f == NULL) {
        return AVERROR(ENOMEM);
    }

    pthread_mutex_lock(&r->mutex);

    while (r->count == SFN_MEDIA_QUEUE && !r->err) {
        pthread_cond_wait(&r->cond, &r->mutex);
    }

    if (r->err) {
        pthread_mutex_unlock(&r->mutex);
        av_frame_free(&f);
        return r->err;
    }

    r->queue[(r->head + r->count) % SFN_MEDIA_QUEUE] = f;
    r->count++;

    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mutex);

    return 0;
}


/* stops the thread; drops queued frames when "drop" */

void
sfn_media_rend_stop(sfn_media_rend_t *r, int drop)
{
    if (!r->running) {
        return;
    }

    pthread_mutex_lock(&r->mutex);

    if (drop) {
        r->err = AVERROR_EXIT;

        while (r->count) {
            av_frame_free(&r->queue[r->head]);
            r->head = (r->head + 1) % SFN_MEDIA_QUEUE;
            r->count--;
        }
    }

    r->eof = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mutex);

    pthread_join(r->tid, NULL);

    pthread_mutex_destroy(&r->mutex);
    pthread_cond_destroy(&r->cond);
    r->running = 0;
}


/* audio */


/* silence as QC counts it: frames whose RMS is under -60 dBFS */

static void
sfn_media_silence(sfn_media_aenc_t *a, const AVFrame *f)
{
    int           c, i;
    double        sum, d;
    const float  *p;

    sum = 0;

    for (c = 0; c < f->ch_layout.nb_channels; c++) {
        p = (const float *) f->extended_data[c];

        for (i = 0; i < f->nb_samples; i++) {
            sum += (double) p[i] * p[i];
        }
    }

    d = (double) f->nb_samples / f->sample_rate;
    a->seconds += d;

    if (f->nb_samples
        && sqrt(sum / ((double) f->nb_samples * f->ch_layout.nb_channels))
           < 0.001)
    {
        a->silent += d;
    }
}


static int
sfn_media_aenc_flush_fifo(sfn_media_job_t *job, sfn_media_aenc_t *a,
    int last)
{
    int              rc, n;
    AVCodecContext  *c;

    c = a->enc;

    while (av_audio_fifo_size(a->fifo) >= c->frame_size
           || (last && av_audio_fifo_size(a->fifo) > 0))
    {
        n = FFMIN(av_audio_fifo_size(a->fifo), c->frame_size);

        av_frame_unref(a->frame);
        a->frame->nb_samples = n;
        a->frame->format = c->sample_fmt;
        a->frame->sample_rate = c->sample_rate;
        av_channel_layout_copy(&a->frame->ch_layout, &c->ch_layout);

        rc = av_frame_get_buffer(a->frame, 0);
        if (rc < 0) {
            return rc;
        }

        if (av_audio_fifo_read(a->fifo, (void **) a->frame->data, n) != n) {
            return AVERROR_BUG;
        }

        a->frame->pts = a->next_pts;
        a->next_pts += n;

        sfn_media_silence(a, a->frame);

        rc = avcodec_send_frame(c, a->frame);
        if (rc < 0) {
            return rc;
        }

        rc = sfn_media_drain(job, c, 0, (int) (a - job->aencs), NULL);
        if (rc < 0) {
            return rc;
        }
    }

    return 0;
}


int
sfn_media_aenc_frame(sfn_media_job_t *job, sfn_media_aenc_t *a, AVFrame *in)
{
    int        rc, n, max;
    int64_t    t;
    uint8_t  **buf;
    AVStream  *st;

    if (!a->started && in) {
        st = job->in.fmt->streams[job->in.aindex];
        t = in->best_effort_timestamp;

        /* audio that starts late starts late in the output too */

        if (t != AV_NOPTS_VALUE) {
            t = av_rescale_q(t - av_rescale_q(job->in.start, AV_TIME_BASE_Q,
                                              st->time_base),
                             st->time_base,
                             (AVRational) { 1, a->spec.sample_rate });
            a->next_pts = t > 0 ? t : 0;
        }

        a->started = 1;
    }

    max = swr_get_out_samples(a->swr, in ? in->nb_samples : 0);
    if (max <= 0) {
        return sfn_media_aenc_flush_fifo(job, a, in == NULL);
    }

    rc = av_samples_alloc_array_and_samples(&buf, NULL,
                                            a->enc->ch_layout.nb_channels,
                                            max, a->enc->sample_fmt, 0);
    if (rc < 0) {
        return rc;
    }

    n = swr_convert(a->swr, buf, max,
                    in ? (const uint8_t **) in->extended_data : NULL,
                    in ? in->nb_samples : 0);

    if (n > 0 && av_audio_fifo_write(a->fifo, (void **) buf, n) < n) {
        n = AVERROR(ENOMEM);
    }

    av_freep(&buf[0]);
    av_freep(&buf);

    if (n < 0) {
        return n;
    }

    return sfn_media_aenc_flush_fifo(job, a, in == NULL);
}


/* thumbnails */


int
sfn_media_thumbs_open(sfn_media_job_t *job, sfn_media_thumbs_t *th)
{
    int               rc, q;
    char              chain[512];
    AVStream         *st;
    const AVCodec    *codec;
    AVCodecContext   *c;
    sfn_media_rend_t  r;

    st = job->in.fmt->streams[job->in.vindex];

    memset(&r, 0, sizeof(sfn_media_rend_t));
    r.spec.width = th->def.width;
    r.spec.height = th->def.height;

    if (sfn_media_rend_size(job, &r) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    th->def.width = r.ow;
    th->def.height = r.oh;

    sfn_media_scale_chain(chain, sizeof(chain), job->in.rotation,
                          th->def.width, th->def.height, "yuvj420p");

    rc = sfn_media_filter_init(&th->filter, job->in.vdec, st->time_base,
                               chain);
    if (rc < 0) {
        return sfn_media_fail_av(job->call, job->set.src_name,
                                 "cannot build the thumbnail scaler", rc);
    }

    codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    c = codec ? avcodec_alloc_context3(codec) : NULL;

    if (c == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "no JPEG encoder");
    }

    th->enc = c;

    /* Quality 1..100 onto the JPEG quantizer scale 31..2 */

    q = th->def.quality;
    q = q < 1 ? 1 : q > 100 ? 100 : q;
    q = 2 + (100 - q) * 29 / 99;

    c->width = th->def.width;
    c->height = th->def.height;
    c->pix_fmt = AV_PIX_FMT_YUVJ420P;
    c->time_base = (AVRational) { 1, 25 };
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = q * FF_QP2LAMBDA;
    c->qmin = q;
    c->qmax = q;
    c->color_range = AVCOL_RANGE_JPEG;

    rc = avcodec_open2(c, codec, NULL);
    if (rc < 0) {
        return sfn_media_fail_av(job->call, job->set.src_name,
                                 "cannot open the JPEG encoder", rc);
    }

    th->files = cJSON_CreateArray();
    th->extra = cJSON_CreateObject();
    th->next = th->def.offset;

    if (!th->def.sprite) {
        return SFN_TASK_OK;
    }

    /* the sheet starts black: JPEG's full range puts black at 0, 128 */

    th->sheet = av_frame_alloc();

    if (th->sheet == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed", "out of memory");
    }

    th->sheet->format = AV_PIX_FMT_YUVJ420P;
    th->sheet->width = th->def.columns * th->def.tile_width;
    th->sheet->height = th->def.rows * th->def.tile_height;

    rc = av_frame_get_buffer(th->sheet, 0);
    if (rc < 0) {
        return sfn_media_fail_av(job->call, job->set.src_name,
                                 "cannot allocate the sprite sheet", rc);
    }

    memset(th->sheet->data[0], 0,
           (size_t) th->sheet->linesize[0] * th->sheet->height);
    memset(th->sheet->data[1], 128,
           (size_t) th->sheet->linesize[1] * (th->sheet->height / 2));
    memset(th->sheet->data[2], 128,
           (size_t) th->sheet->linesize[2] * (th->sheet->height / 2));

    th->tiler = sws_getContext(th->def.width, th->def.height,
                               AV_PIX_FMT_YUVJ420P, th->def.tile_width,
                               th->def.tile_height, AV_PIX_FMT_YUVJ420P,
                               SWS_AREA, NULL, NULL, NULL);
    th->poster = av_packet_alloc();

    if (th->tiler == NULL || th->poster == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "cannot build the sprite scaler");
    }

    return SFN_TASK_OK;
}


void
sfn_media_thumbs_free(sfn_media_thumbs_t *th)
{
    sfn_media_filter_free(&th->filter);
    avcodec_free_context(&th->enc);
    cJSON_Delete(th->files);
    th->files = NULL;
    cJSON_Delete(th->extra);
    th->extra = NULL;
    av_frame_free(&th->sheet);
    sws_freeContext(th->tiler);
    th->tiler = NULL;
    av_packet_free(&th->poster);
}


/* a file of a frame capture output, in the job's temporary tree */

static int
sfn_media_thumbs_write(sfn_media_job_t *job, sfn_media_thumbs_t *th,
    const char *key, const void *data, size_t size)
{
    int    rc;
    FILE  *fp;
    char   path[SFN_MEDIA_PATH_MAX];

    if (sfn_media_fmt(path, sizeof(path), "%s/%s", job->tmp[th->def.bucket],
                      key)
        < 0)
    {
        return AVERROR(ENAMETOOLONG);
    }

    if (sfn_media_mkdirs(path, 0) != 0) {
        return AVERROR(errno);
    }

    rc = 0;
    errno = 0;

    fp = fopen(path, "wb");

    if (fp == NULL || fwrite(data, 1, size, fp) != size) {
        rc = AVERROR(errno ? errno : EIO);
    }

    if (fp && fclose(fp) != 0) {
        rc = AVERROR(errno);
    }

    return rc;
}


static void
sfn_media_vtt_time(char *buf, size_t size, double t)
{
    long long  ms;

    ms = (long long) (t * 1000 + 0.5);

    snprintf(buf, size, "%02lld:%02lld:%02lld.%03lld", ms / 3600000,
             ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}


/*
 * The WebVTT thumbnail track: the cue of a capture runs from half way
 * after the one before to half way before the next, the last one to the
 * end, and names its tile with a #xywh= media fragment.
 */

static char *
sfn_media_thumbs_vtt(sfn_media_job_t *job, sfn_media_thumbs_t *th,
    const char *sheet, double end)
{
    int          i;
    char        *vtt, a[32], b[32];
    size_t       len, size;
    double       t, prev, next;

    size = 16 + (size_t) th->tiles * (64 + strlen(sheet));

    vtt = malloc(size);
    if (vtt == NULL) {
        return NULL;
    }

    len = (size_t) snprintf(vtt, size, "WEBVTT\n");
    prev = 0;

    for (i = 0; i < th->tiles; i++) {
        t = sfn_media_number(cJSON_GetArrayItem(th->files, i), "time", 0);
        next = i + 1 < th->tiles
               ? (t + sfn_media_number(cJSON_GetArrayItem(th->files, i + 1),
                                       "time", 0)) / 2
               : end > t ? end : t + th->def.interval;

        sfn_media_vtt_time(a, sizeof(a), prev);
        sfn_media_vtt_time(b, sizeof(b), next);

        len += (size_t) snprintf(vtt + len, size - len,
                                 "\n%s --> %s\n%s#xywh=%d,%d,%d,%d\n", a, b,
                                 sheet,
                                 i % th->def.columns * th->def.tile_width,
                                 i / th->def.columns * th->def.tile_height,
                                 th->def.tile_width, th->def.tile_height);
        prev = next;
    }

    return vtt;
}


static cJSON *
sfn_media_thumbs_file(sfn_media_job_t *job, sfn_media_thumbs_t *th,
    const char *key, size_t size)
{
    cJSON  *o;

    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bucket",
                            job->set.buckets[th->def.bucket].name);
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddNumberToObject(o, "size", (double) size);

    return o;
}


/* the sheet encoded, its WebVTT track and the poster written */

int
sfn_media_thumbs_finish(sfn_media_job_t *job, sfn_media_thumbs_t *th)
{
    int              rc, rows;
    char             key[1024], vkey[1024], pkey[1024], *vtt;
    cJSON           *o;
    double           end;
    AVFrame         *f;
    AVPacket        *pkt;
    const char      *name;
    AVCodecContext  *c;

    if (!th->def.sprite || th->tiles == 0) {
        return SFN_TASK_OK;
    }

    f = av_frame_alloc();
    pkt = av_packet_alloc();
    c = avcodec_alloc_context3(th->enc->codec);

    if (f == NULL || pkt == NULL || c == NULL
        || av_frame_ref(f, th->sheet) < 0)
    {
        rc = AVERROR(ENOMEM);
        goto failed;
    }

    rows = (th->tiles + th->def.columns - 1) / th->def.columns;

    f->width = th->tiles < th->def.columns
               ? th->tiles * th->def.tile_width : th->sheet->width;
    f->height = rows * th->def.tile_height;
    f->pts = 0;
    f->quality = th->enc->global_quality;

    c->width = f->width;
    c->height = f->height;
    c->pix_fmt = AV_PIX_FMT_YUVJ420P;
    c->time_base = (AVRational) { 1, 25 };
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = th->enc->global_quality;
    c->qmin = th->enc->qmin;
    c->qmax = th->enc->qmax;
    c->color_range = AVCOL_RANGE_JPEG;

    rc = avcodec_open2(c, c->codec, NULL);

    if (rc >= 0) {
        rc = avcodec_send_frame(c, f);
    }

    if (rc >= 0) {
        rc = avcodec_receive_packet(c, pkt);
    }

    if (rc < 0) {
        goto failed;
    }

    sfn_media_capture_extra(&th->def, "jpg", key, sizeof(key));
    sfn_media_capture_extra(&th->def, "vtt", vkey, sizeof(vkey));
    sfn_media_capture_extra(&th->def, "poster", pkey, sizeof(pkey));

    rc = sfn_media_thumbs_write(job, th, key, pkt->data, pkt->size);
    if (rc < 0) {
        goto failed;
    }

    o = sfn_media_thumbs_file(job, th, key, pkt->size);
    cJSON_AddNumberToObject(o, "width", f->width);
    cJSON_AddNumberToObject(o, "height", f->height);
    cJSON_AddNumberToObject(o, "columns", th->def.columns);
    cJSON_AddNumberToObject(o, "rows", rows);
    cJSON_AddNumberToObject(o, "tileWidth", th->def.tile_width);
    cJSON_AddNumberToObject(o, "tileHeight", th->def.tile_height);
    cJSON_AddNumberToObject(o, "tiles", th->tiles);
    cJSON_AddItemToObject(th->extra, "sprite", o);

    name = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
    end = job->in.duration > job->last_t ? job->in.duration : job->last_t;

    vtt = sfn_media_thumbs_vtt(job, th, name, end);
    if (vtt == NULL) {
        rc = AVERROR(ENOMEM);
        goto failed;
    }

    rc = sfn_media_thumbs_write(job, th, vkey, vtt, strlen(vtt));
    cJSON_AddItemToObject(th->extra, "vtt",
                          sfn_media_thumbs_file(job, th, vkey, strlen(vtt)));
    free(vtt);

    if (rc < 0) {
        goto failed;
    }

    rc = sfn_media_thumbs_write(job, th, pkey, th->poster->data,
                                th->poster->size);
    if (rc < 0) {
        goto failed;
    }

    o = sfn_media_thumbs_file(job, th, pkey, th->poster->size);
    cJSON_AddNumberToObject(o, "time", floor(th->poster_time * 1000) / 1000);
    cJSON_AddNumberToObject(o, "width", th->def.width);
    cJSON_AddNumberToObject(o, "height", th->def.height);
    cJSON_AddItemToObject(th->extra, "poster", o);

failed:

    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&c);

    if (rc < 0) {
        return sfn_media_fail_av(job->call, job->set.src_name,
                                 "cannot write the sprite sheet", rc);
    }

    return SFN_TASK_OK;
}


/* a capture into the next tile of the sheet; the first not black as poster */

static int
sfn_media_thumbs_tile(sfn_media_thumbs_t *th, AVFrame *f, AVPacket *pkt,
    double t)
{
    int                x, y, p;
    uint8_t           *dst[4];
    sfn_media_luma_t   luma;

    if (th->tiles < th->def.columns * th->def.rows) {
        x = th->tiles % th->def.columns * th->def.tile_width;
        y = th->tiles / th->def.columns * th->def.tile_height;

        for (p = 0; p < 3; p++) {
            dst[p] = th->sheet->data[p]
                     + (p ? y / 2 : y) * th->sheet->linesize[p]
                     + (p ? x / 2 : x);
        }

        dst[3] = NULL;

        sws_scale(th->tiler, (const uint8_t *const *) f->data, f->linesize,
                  0, f->height, dst, th->sheet->linesize);
        th->tiles++;
    }

    sfn_media_luma(f, &luma);

    if (th->poster->size == 0 || (th->poster_black && luma.black < 0.98)) {
        av_packet_unref(th->poster);

        if (av_packet_ref(th->poster, pkt) < 0) {
            return AVERROR(ENOMEM);
        }

        th->poster_black = luma.black >= 0.98;
        th->poster_time = t;
    }

    return 0;
}


int
sfn_media_thumbs_frame(sfn_media_job_t *job, sfn_media_thumbs_t *th,
    AVFrame *frame, double t)
{
    int        rc;
    char       key[1024];
    cJSON     *item;
    AVFrame   *f;
    AVPacket  *pkt;

    if (th->count >= th->def.max || t + 0.5 / (job->in.fps ? job->in.fps : 25)
                                < th->next)
    {
        return 0;
    }

    rc = av_buffersrc_add_frame_flags(th->filter.src, frame,
                                      AV_BUFFERSRC_FLAG_KEEP_REF);
    if (rc < 0) {
        return rc;
    }

    f = av_frame_alloc();
    pkt = av_packet_alloc();

    if (f == NULL || pkt == NULL) {
        av_frame_free(&f);
        av_packet_free(&pkt);
        return AVERROR(ENOMEM);
    }

    rc = av_buffersink_get_frame(th->filter.sink, f);

    if (rc >= 0) {
        f->pts = th->count;
        f->quality = th->enc->global_quality;
        f->pict_type = AV_PICTURE_TYPE_NONE;

        rc = avcodec_send_frame(th->enc, f);
    }

    if (rc >= 0) {
        rc = avcodec_receive_packet(th->enc, pkt);
    }

    if (rc >= 0 && th->def.sprite) {
        rc = sfn_media_thumbs_tile(th, f, pkt, t);
    }

    if (rc >= 0) {
        sfn_media_capture_key(&th->def, th->count, key, sizeof(key));
        rc = sfn_media_thumbs_write(job, th, key, pkt->data, pkt->size);

        if (rc >= 0) {
            item = cJSON_CreateObject();
            cJSON_AddStringToObject(item, "bucket",
                                    job->set.buckets[th->def.bucket].name);
            cJSON_AddStringToObject(item, "key", key);
            cJSON_AddNumberToObject(item, "time", floor(t * 1000) / 1000);
            cJSON_AddNumberToObject(item, "width", th->def.width);
            cJSON_AddNumberToObject(item, "height", th->def.height);
            cJSON_AddNumberToObject(item, "size", pkt->size);
            cJSON_AddItemToArray(th->files, item);

            th->count++;
            th->next += th->def.interval;

            /* frames are seldom exactly on time: never capture twice */

            if (th->next <= t) {
                th->next = t + th->def.interval;
            }
        }
    }

    av_frame_free(&f);
    av_packet_free(&pkt);

    return rc < 0 ? rc : 0;
}


/* the figures of the rendition and audio encoding an output carries */

void
sfn_media_quality(sfn_media_job_t *job, const sfn_media_out_t *out, cJSON *o)
{
    int                 i;
    cJSON              *q;
    sfn_media_rend_t   *r, *a;
    sfn_media_aenc_t   *ae;

    q = cJSON_AddObjectToObject(o, "quality");

    if (out->def.rend >= 0) {
        r = &job->rends[out->def.rend];

        /* the job's black frames are counted on its smallest rendition */

        a = NULL;

        for (i = 0; i < job->nrends; i++) {
            if (job->rends[i].analyse) {
                a = &job->rends[i];
            }
        }

        cJSON_AddStringToObject(q, "measured", "encoder");
        cJSON_AddNumberToObject(q, "frames", (double) r->frames);

        if (r->stats.have_psnr) {
            cJSON_AddNumberToObject(q, "psnr",
                                    floor(r->stats.psnr * 1000) / 1000);
            cJSON_AddNumberToObject(q, "psnrY",
                                    floor(r->stats.psnr_y * 1000) / 1000);
            cJSON_AddNumberToObject(q, "psnrU",
                                    floor(r->stats.psnr_u * 1000) / 1000);
            cJSON_AddNumberToObject(q, "psnrV",
                                    floor(r->stats.psnr_v * 1000) / 1000);
        }

        if (r->stats.have_ssim) {
            cJSON_AddNumberToObject(q, "ssim",
                                    floor(r->stats.ssim * 100000) / 100000);
        }

        if (a && a->frames) {
            cJSON_AddNumberToObject(q, "blackFrames", (double) a->black);
            cJSON_AddNumberToObject(q, "blackRatio",
                                    floor(1000.0 * a->black / a->frames)
                                    / 1000);
        }
    }

    if (out->def.aenc >= 0) {
        ae = &job->aencs[out->def.aenc];

        cJSON_AddNumberToObject(q, "audioDuration",
                                floor(ae->seconds * 1000) / 1000);
        cJSON_AddNumberToObject(q, "silenceDuration",
                                floor(ae->silent * 1000) / 1000);
        cJSON_AddNumberToObject(q, "silenceRatio",
                                ae->seconds > 0
                                ? floor(1000 * ae->silent / ae->seconds)
                                  / 1000 : 0);
    }
}


void
sfn_media_thumbs_result(const sfn_media_thumbs_t *th, cJSON *o)
{
    cJSON  *item;

    cJSON_ArrayForEach(item, th->extra) {
        cJSON_AddItemToObject(o, item->string, cJSON_Duplicate(item, 1));
    }
}
