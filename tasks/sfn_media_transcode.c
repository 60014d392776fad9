
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:media:transcode - a MediaConvert job on the FFmpeg libraries, and
 * sfn:media:thumbnails, the frame capture of the same pipeline alone.
 *
 * The source is decoded once.  Each distinct video rendition is scaled and
 * encoded once, on its own thread, and each distinct audio encoding once;
 * their packets go to every container that wants them (MP4, HLS with TS or
 * fMP4 segments).  Key frames are forced on segment boundaries so that
 * HLS renditions align.  Everything is written to a temporary directory in
 * the bucket and renamed into place only when the whole job succeeded.
 * The Settings are parsed into the job's plan by sfn_media_settings.c.
 */


#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>

#include "sfn_media.h"


#define SFN_MEDIA_QUEUE        8


typedef struct sfn_media_job_s  sfn_media_job_t;


typedef struct {
    sfn_media_vspec_t     spec;
    int                   ow;
    int                   oh;
    AVCodecContext       *enc;
    sfn_media_filter_t    filter;
    int64_t               next_key;     /* enc time base */
    int64_t               key_step;
    int64_t               last_pts;
    int64_t               bytes;
    int64_t               frames;
    char                  codecs[32];   /* "avc1.64001f" */

    /* the encoding thread and its queue of decoded frames */
    pthread_t             tid;
    int                   running;
    pthread_mutex_t       mutex;
    pthread_cond_t        cond;
    AVFrame              *queue[SFN_MEDIA_QUEUE];
    int                   head;
    int                   count;
    int                   eof;
    int                   err;
    sfn_media_job_t      *job;
} sfn_media_rend_t;


typedef struct {
    sfn_media_aspec_t     spec;
    AVCodecContext       *enc;
    SwrContext           *swr;
    AVAudioFifo          *fifo;
    AVFrame              *frame;
    int64_t               next_pts;
    int                   started;
} sfn_media_aenc_t;


typedef struct {
    sfn_media_output_t    def;
    char                  key[1024];    /* final key of the main file */
    AVFormatContext      *mux;
    int                   vst;
    int                   ast;
    pthread_mutex_t       mutex;
    double                end;          /* seconds */
    double                duration;
} sfn_media_out_t;


typedef struct {
    sfn_media_capture_t   def;          /* width, height: as encoded */
    int                   count;
    double                next;
    sfn_media_filter_t    filter;
    AVCodecContext       *enc;
    cJSON                *files;
} sfn_media_thumbs_t;


struct sfn_media_job_s {
    sfn_task_call_t      *call;
    sfn_media_input_t     in;
    sfn_media_settings_t  set;

    sfn_media_rend_t      rends[SFN_MEDIA_MAX_RENDS];
    int                   nrends;
    sfn_media_aenc_t      aencs[SFN_MEDIA_MAX_AUDIO];
    int                   naencs;
    sfn_media_out_t       outs[SFN_MEDIA_MAX_OUTS];
    int                   nouts;
    sfn_media_thumbs_t    thumbs[SFN_MEDIA_MAX_THUMBS];
    int                   nthumbs;

    /* the temporary directory of each of set.buckets, "" if none */
    char                  tmp[SFN_MEDIA_MAX_BUCKETS][SFN_MEDIA_PATH_MAX];

    int64_t               vstart;       /* video start, stream time base */
    double                last_t;
    int64_t               frames;       /* video frames decoded */
    int64_t               aframes;      /* audio frames decoded */
    double                started;
    double                reported;

    /* the first failure of an encoding thread */
    pthread_mutex_t       err_mutex;
    char                  err[1024];
};


static double
sfn_media_now(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return tv.tv_sec + tv.tv_usec / 1e6;
}


static void
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
    int  sw, sh, w, h;

    sw = job->in.vdec->width;
    sh = job->in.vdec->height;

    if (job->in.rotation % 180) {
        w = sw;
        sw = sh;
        sh = w;
    }

    w = r->spec.width;
    h = r->spec.height;

    if (w == 0 && h == 0) {
        w = sw;
        h = sh;

    } else if (w == 0) {
        w = (int) ((double) h * sw / sh + 0.5);

    } else if (h == 0) {
        h = (int) ((double) w * sh / sw + 0.5);
    }

    /* 4:2:0 wants even sizes */

    r->ow = w & ~1;
    r->oh = h & ~1;

    if (r->ow < 2 || r->oh < 2) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "rendition size %dx%d is too small", w, h);
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


static int
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

    /* key frames at least every segment, and forced on its boundaries */

    c->gop_size = (int) (av_q2d(fr) * (r->spec.gop ? r->spec.gop / 1000.0
                                                   : job->set.seglen) + 0.5);
    if (c->gop_size < 1) {
        c->gop_size = 1;
    }

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

    r->key_step = av_rescale_q((int64_t) (job->set.seglen * 1000),
                               (AVRational) { 1, 1000 }, c->time_base);
    r->next_key = 0;
    r->last_pts = AV_NOPTS_VALUE;
    r->job = job;

    return SFN_TASK_OK;
}


static int
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


/* muxers */


static int
sfn_media_out_path(sfn_media_job_t *job, sfn_media_out_t *out, char *buf,
    size_t size, const char *suffix)
{
    const char          *tmp;
    sfn_media_group_t   *g;

    g = &job->set.groups[out->def.group];
    tmp = job->tmp[g->bucket];

    if ((size_t) snprintf(buf, size, "%s/%s%s%s", tmp, g->prefix,
                          out->def.name, suffix)
        >= size)
    {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "output path is too long");
    }

    return SFN_TASK_OK;
}


static int
sfn_media_out_open(sfn_media_job_t *job, sfn_media_out_t *out)
{
    int                 rc;
    char                path[SFN_MEDIA_PATH_MAX], seg[SFN_MEDIA_PATH_MAX];
    char                buf[64];
    AVStream           *st;
    const char         *fmt;
    AVDictionary       *opts;
    sfn_media_group_t  *g;
    sfn_media_rend_t   *r;
    sfn_media_aenc_t   *a;

    g = &job->set.groups[out->def.group];
    opts = NULL;

    if (sfn_media_out_path(job, out, path, sizeof(path),
                           out->def.type == SFN_MEDIA_MP4 ? ".mp4" : ".m3u8")
        != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    snprintf(out->key, sizeof(out->key), "%s%s%s", g->prefix, out->def.name,
             out->def.type == SFN_MEDIA_MP4 ? ".mp4" : ".m3u8");

    if (sfn_media_mkdirs(path, 0) != 0) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "mkdir \"%s\" failed: %s", path,
                             strerror(errno));
    }

    fmt = out->def.type == SFN_MEDIA_MP4 ? "mp4" : "hls";

    rc = avformat_alloc_output_context2(&out->mux, NULL, fmt, path);
    if (rc < 0) {
        return sfn_media_fail_av(job->call, out->key, "cannot be created",
                                 rc);
    }

    sfn_media_interrupt(&out->mux->interrupt_callback, job->call);

    out->vst = -1;
    out->ast = -1;

    if (out->def.rend >= 0) {
        r = &job->rends[out->def.rend];
        st = avformat_new_stream(out->mux, NULL);

        if (st == NULL) {
            return sfn_task_fail(job->call, "States.TaskFailed",
                                 "out of memory");
        }

        avcodec_parameters_from_context(st->codecpar, r->enc);
        st->time_base = r->enc->time_base;
        st->avg_frame_rate = r->enc->framerate;
        out->vst = st->index;
    }

    if (out->def.aenc >= 0) {
        a = &job->aencs[out->def.aenc];
        st = avformat_new_stream(out->mux, NULL);

        if (st == NULL) {
            return sfn_task_fail(job->call, "States.TaskFailed",
                                 "out of memory");
        }

        avcodec_parameters_from_context(st->codecpar, a->enc);
        st->time_base = a->enc->time_base;
        out->ast = st->index;
    }

    if (out->def.type == SFN_MEDIA_MP4) {
        av_dict_set(&opts, "movflags", "+faststart", 0);

        rc = avio_open2(&out->mux->pb, path, AVIO_FLAG_WRITE,
                        &out->mux->interrupt_callback, NULL);
        if (rc < 0) {
            av_dict_free(&opts);
            return sfn_media_fail_av(job->call, out->key,
                                     "cannot be created", rc);
        }

    } else {
        snprintf(buf, sizeof(buf), "%g", g->seglen);
        av_dict_set(&opts, "hls_time", buf, 0);
        av_dict_set(&opts, "hls_playlist_type", "vod", 0);
        av_dict_set(&opts, "hls_list_size", "0", 0);
        av_dict_set(&opts, "start_number", "1", 0);
        av_dict_set(&opts, "hls_flags", "independent_segments", 0);

        if (out->def.type == SFN_MEDIA_HLS_FMP4) {
            av_dict_set(&opts, "hls_segment_type", "fmp4", 0);
            snprintf(seg, sizeof(seg), "%s_init.mp4", out->def.name);
            av_dict_set(&opts, "hls_fmp4_init_filename", seg, 0);

            if (sfn_media_out_path(job, out, seg, sizeof(seg), "_%05d.m4s")
                != SFN_TASK_OK)
            {
                av_dict_free(&opts);
                return SFN_TASK_FAILED;
            }

        } else if (sfn_media_out_path(job, out, seg, sizeof(seg),
                                      "_%05d.ts")
                   != SFN_TASK_OK)
        {
            av_dict_free(&opts);
            return SFN_TASK_FAILED;
        }

        av_dict_set(&opts, "hls_segment_filename", seg, 0);
    }

    rc = avformat_write_header(out->mux, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        return sfn_media_fail_av(job->call, out->key, "cannot be written",
                                 rc);
    }

    pthread_mutex_init(&out->mutex, NULL);

    return SFN_TASK_OK;
}


/* hands a packet of rendition or audio encoding "index" to its muxers */

static int
sfn_media_emit(sfn_media_job_t *job, AVPacket *pkt, int video, int index,
    AVRational tb)
{
    int               i, rc, si;
    AVPacket         *p;
    sfn_media_out_t  *out;

    for (i = 0; i < job->nouts; i++) {
        out = &job->outs[i];

        if (video ? out->def.rend != index : out->def.aenc != index) {
            continue;
        }

        si = video ? out->vst : out->ast;

        p = av_packet_clone(pkt);
        if (p == NULL) {
            return AVERROR(ENOMEM);
        }

        p->stream_index = si;
        av_packet_rescale_ts(p, tb, out->mux->streams[si]->time_base);

        pthread_mutex_lock(&out->mutex);

        if (p->pts != AV_NOPTS_VALUE
            && (pkt->pts + pkt->duration) * av_q2d(tb) > out->end)
        {
            out->end = (pkt->pts + pkt->duration) * av_q2d(tb);
        }

        rc = av_interleaved_write_frame(out->mux, p);
        pthread_mutex_unlock(&out->mutex);

        av_packet_free(&p);

        if (rc < 0) {
            return rc;
        }
    }

    return 0;
}


static int
sfn_media_drain(sfn_media_job_t *job, AVCodecContext *enc, int video,
    int index, int64_t *bytes)
{
    int        rc;
    AVPacket  *pkt;

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        return AVERROR(ENOMEM);
    }

    for ( ;; ) {
        rc = avcodec_receive_packet(enc, pkt);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc < 0) {
            break;
        }

        if (bytes) {
            *bytes += pkt->size;
        }

        rc = sfn_media_emit(job, pkt, video, index, enc->time_base);
        av_packet_unref(pkt);

        if (rc < 0) {
            break;
        }
    }

    av_packet_free(&pkt);

    return rc;
}


/* video: scale and encode, on the rendition's own thread */


static int
sfn_media_rend_encode(sfn_media_rend_t *r, AVFrame *in)
{
    int       rc;
    AVFrame  *f;

    if (in) {
        rc = av_buffersrc_add_frame_flags(r->filter.src, in,
                                          AV_BUFFERSRC_FLAG_KEEP_REF);
    } else {
        rc = av_buffersrc_add_frame_flags(r->filter.src, NULL, 0);
    }

    if (rc < 0) {
        return rc;
    }

    f = av_frame_alloc();
    if (f == NULL) {
        return AVERROR(ENOMEM);
    }

    for ( ;; ) {
        rc = av_buffersink_get_frame(r->filter.sink, f);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc < 0) {
            break;
        }

        /* strictly increasing timestamps, whatever the source did */

        if (r->last_pts != AV_NOPTS_VALUE && f->pts <= r->last_pts) {
            f->pts = r->last_pts + 1;
        }

        r->last_pts = f->pts;

        f->pict_type = AV_PICTURE_TYPE_NONE;

        if (f->pts >= r->next_key) {
            f->pict_type = AV_PICTURE_TYPE_I;

            while (r->next_key <= f->pts) {
                r->next_key += r->key_step;
            }
        }

        r->frames++;

        rc = avcodec_send_frame(r->enc, f);
        av_frame_unref(f);

        if (rc < 0) {
            break;
        }

        rc = sfn_media_drain(r->job, r->enc, 1, (int) (r - r->job->rends),
                             &r->bytes);
        if (rc < 0) {
            break;
        }
    }

    av_frame_free(&f);

    if (rc == 0 && in == NULL) {
        rc = avcodec_send_frame(r->enc, NULL);

        if (rc == 0) {
            rc = sfn_media_drain(r->job, r->enc, 1, (int) (r - r->job->rends),
                                 &r->bytes);
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


static int
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


static int
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

static void
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


static int
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


static int
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
    th->next = th->def.offset;

    return SFN_TASK_OK;
}


static int
sfn_media_thumbs_frame(sfn_media_job_t *job, sfn_media_thumbs_t *th,
    AVFrame *frame, double t)
{
    int        rc;
    FILE      *fp;
    char       key[1024], path[SFN_MEDIA_PATH_MAX];
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

    if (rc >= 0) {
        sfn_media_capture_key(&th->def, th->count, key, sizeof(key));
        snprintf(path, sizeof(path), "%s/%s",
                 job->tmp[th->def.bucket], key);

        if (sfn_media_mkdirs(path, 0) != 0) {
            rc = AVERROR(errno);

        } else {
            fp = fopen(path, "wb");

            if (fp == NULL || fwrite(pkt->data, 1, pkt->size, fp)
                              != (size_t) pkt->size)
            {
                rc = AVERROR(errno ? errno : EIO);
            }

            if (fp && fclose(fp) != 0) {
                rc = AVERROR(errno);
            }
        }

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


/* the decode loop */


static void
sfn_media_progress(sfn_media_job_t *job, int force)
{
    double                 now, pct;
    const sfn_task_env_t  *env;

    env = job->call->env;

    if (env == NULL || env->progress == NULL) {
        return;
    }

    now = sfn_media_now();

    if (!force && now - job->reported < 0.5) {
        return;
    }

    job->reported = now;

    pct = job->in.duration > 0 ? 100.0 * job->last_t / job->in.duration : 0;
    pct = force ? 100 : pct > 99 ? 99 : pct < 0 ? 0 : pct;

    env->progress(env->data, pct,
                  now > job->started ? job->frames / (now - job->started)
                                     : 0);
}


static int
sfn_media_video_frame(sfn_media_job_t *job, AVFrame *frame)
{
    int        i, rc;
    double     t;
    AVStream  *st;

    st = job->in.fmt->streams[job->in.vindex];

    frame->pts = frame->best_effort_timestamp;

    if (frame->pts == AV_NOPTS_VALUE) {
        frame->pts = job->frames;
    }

    frame->pts -= job->vstart;
    t = frame->pts * av_q2d(st->time_base);

    job->last_t = t;
    job->frames++;

    for (i = 0; i < job->nthumbs; i++) {
        rc = sfn_media_thumbs_frame(job, &job->thumbs[i], frame, t);
        if (rc < 0) {
            return rc;
        }
    }

    for (i = 0; i < job->nrends; i++) {
        rc = sfn_media_rend_push(&job->rends[i], frame);
        if (rc < 0) {
            return rc;
        }
    }

    return 0;
}


static int
sfn_media_decode(sfn_media_job_t *job, AVCodecContext *dec, AVPacket *pkt)
{
    int        i, rc;
    AVFrame   *frame;

    rc = avcodec_send_packet(dec, pkt);

    /* a damaged packet is skipped, as players do */

    if (rc < 0 && rc != AVERROR_EOF && rc != AVERROR(EAGAIN)) {
        return rc == AVERROR_INVALIDDATA ? 0 : rc;
    }

    frame = av_frame_alloc();
    if (frame == NULL) {
        return AVERROR(ENOMEM);
    }

    for ( ;; ) {
        rc = avcodec_receive_frame(dec, frame);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc < 0) {
            break;
        }

        if (dec == job->in.vdec) {
            rc = sfn_media_video_frame(job, frame);

        } else {
            job->aframes++;

            for (i = 0; i < job->naencs; i++) {
                rc = sfn_media_aenc_frame(job, &job->aencs[i], frame);
                if (rc < 0) {
                    break;
                }
            }
        }

        av_frame_unref(frame);

        if (rc < 0) {
            break;
        }

        if (job->err[0]) {
            rc = AVERROR_EXTERNAL;
            break;
        }
    }

    av_frame_free(&frame);

    return rc;
}


static int
sfn_media_run(sfn_media_job_t *job)
{
    int        rc;
    AVPacket  *pkt;
    AVStream  *st;

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        return AVERROR(ENOMEM);
    }

    job->vstart = 0;

    if (job->in.vindex >= 0) {
        st = job->in.fmt->streams[job->in.vindex];
        job->vstart = av_rescale_q(job->in.start, AV_TIME_BASE_Q,
                                   st->time_base);
    }

    for ( ;; ) {
        if (sfn_media_cancelled(job->call)) {
            rc = AVERROR_EXIT;
            break;
        }

        rc = av_read_frame(job->in.fmt, pkt);

        if (rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc < 0) {
            break;
        }

        rc = 0;

        if (pkt->stream_index == job->in.vindex
            && (job->nrends || job->nthumbs))
        {
            rc = sfn_media_decode(job, job->in.vdec, pkt);

        } else if (pkt->stream_index == job->in.aindex && job->naencs) {
            rc = sfn_media_decode(job, job->in.adec, pkt);
        }

        av_packet_unref(pkt);

        if (rc < 0) {
            break;
        }

        sfn_media_progress(job, 0);
    }

    av_packet_free(&pkt);

    if (rc < 0) {
        return rc;
    }

    /* drain the decoders, then the encoders */

    if (job->in.vdec && (job->nrends || job->nthumbs)) {
        rc = sfn_media_decode(job, job->in.vdec, NULL);
        if (rc < 0) {
            return rc;
        }
    }

    if (job->in.adec && job->naencs) {
        rc = sfn_media_decode(job, job->in.adec, NULL);
        if (rc < 0) {
            return rc;
        }
    }

    for (rc = 0; rc < job->naencs; rc++) {
        if (sfn_media_aenc_frame(job, &job->aencs[rc], NULL) < 0
            || avcodec_send_frame(job->aencs[rc].enc, NULL) < 0
            || sfn_media_drain(job, job->aencs[rc].enc, 0, rc, NULL) < 0)
        {
            return AVERROR_EXTERNAL;
        }
    }

    return 0;
}


/* results */


static int
sfn_media_master(sfn_media_job_t *job, sfn_media_group_t *g, cJSON *list)
{
    int                 i, fmp4;
    FILE               *fp, *pl;
    char                path[SFN_MEDIA_PATH_MAX], line[1024], seg[1024];
    char               *p;
    double              d, total, peak, segdur;
    long long           size, bytes;
    const char         *tmp;
    sfn_media_out_t    *out;
    sfn_media_rend_t   *r;

    tmp = job->tmp[g->bucket];

    snprintf(path, sizeof(path), "%s/%s%s.m3u8", tmp, g->prefix, g->base);

    fp = fopen(path, "w");
    if (fp == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "cannot write \"%s\": %s", path,
                             strerror(errno));
    }

    fmp4 = g->type == SFN_MEDIA_HLS_FMP4;

    fprintf(fp, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-INDEPENDENT-SEGMENTS\n",
            fmp4 ? 7 : 3);

    for (i = 0; i < job->nouts; i++) {
        out = &job->outs[i];

        if (out->def.group != (int) (g - job->set.groups)) {
            continue;
        }

        /* peak and average bit rates from the segments as written */

        snprintf(line, sizeof(line), "%s/%s", tmp, out->key);
        pl = fopen(line, "r");

        total = 0;
        peak = 0;
        bytes = 0;
        segdur = 0;
        size = 1;

        while (pl && fgets(line, sizeof(line), pl)) {
            line[strcspn(line, "\r\n")] = '\0';

            if (strncmp(line, "#EXTINF:", 8) == 0) {
                segdur = atof(line + 8);
                continue;
            }

            if (line[0] == '#' || line[0] == '\0') {
                continue;
            }

            sfn_media_fmt(seg, sizeof(seg), "%s/%s%s", tmp, g->prefix, line);
            size = sfn_media_file_size(seg);
            d = segdur;

            if (size <= 0) {
                break;
            }

            if (d > 0) {
                bytes += size;
                total += d;

                if (size * 8.0 / d > peak) {
                    peak = size * 8.0 / d;
                }
            }
        }

        if (pl) {
            fclose(pl);
        }

        /* a playlist that names a file not written is no success */

        if (pl == NULL || size <= 0) {
            fclose(fp);
            return sfn_task_fail(job->call, "States.TaskFailed",
                                 "\"%s\": %s was not written", out->key,
                                 pl ? "a segment it lists" : "it");
        }

        out->duration = total;

        fprintf(fp, "#EXT-X-STREAM-INF:BANDWIDTH=%.0f,AVERAGE-BANDWIDTH=%.0f",
                peak, total > 0 ? bytes * 8.0 / total : 0);

        if (out->def.rend >= 0) {
            r = &job->rends[out->def.rend];
            fprintf(fp, ",RESOLUTION=%dx%d,CODECS=\"%s%s\","
                    "FRAME-RATE=%.3f", r->ow, r->oh, r->codecs,
                    out->def.aenc >= 0 ? ",mp4a.40.2" : "",
                    av_q2d(r->enc->framerate));

        } else {
            fprintf(fp, ",CODECS=\"mp4a.40.2\"");
        }

        p = strrchr(out->key, '/');
        fprintf(fp, "\n%s\n", p ? p + 1 : out->key);
    }

    if (fclose(fp) != 0) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "cannot write \"%s\": %s", path,
                             strerror(errno));
    }

    (void) list;

    return SFN_TASK_OK;
}


/* moves every file of the temporary tree into place */

static int
sfn_media_commit_dir(sfn_media_job_t *job, const char *tmp, const char *root,
    const char *rel)
{
    int             rc;
    DIR            *dir;
    char            src[SFN_MEDIA_PATH_MAX], dst[SFN_MEDIA_PATH_MAX];
    char            sub[SFN_MEDIA_PATH_MAX];
    struct stat     sb;
    struct dirent  *de;

    snprintf(src, sizeof(src), "%s/%s", tmp, rel);

    dir = opendir(src);
    if (dir == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "opendir \"%s\" failed: %s", src,
                             strerror(errno));
    }

    rc = SFN_TASK_OK;

    while (rc == SFN_TASK_OK && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
                 de->d_name);
        sfn_media_fmt(src, sizeof(src), "%s/%s", tmp, sub);
        sfn_media_fmt(dst, sizeof(dst), "%s/%s", root, sub);

        if (lstat(src, &sb) == -1) {
            continue;
        }

        if (S_ISDIR(sb.st_mode)) {
            rc = sfn_media_commit_dir(job, tmp, root, sub);
            continue;
        }

        if (sfn_media_mkdirs(dst, 0) != 0 || rename(src, dst) != 0) {
            rc = sfn_task_fail(job->call, "States.TaskFailed",
                               "rename \"%s\" to \"%s\" failed: %s", src, dst,
                               strerror(errno));
        }
    }

    closedir(dir);

    return rc;
}


static void
sfn_media_s3(char *buf, size_t size, const char *bucket, const char *key)
{
    sfn_media_fmt(buf, size, "s3://%s/%s", bucket, key);
}


static cJSON *
sfn_media_result(sfn_media_job_t *job, const cJSON *settings,
    const char *job_id, double elapsed)
{
    int                  i, j, k, n;
    char                 buf[2048], url[2048], ts[64];
    cJSON               *res, *jb, *ogd, *gd, *ods, *od, *paths, *vdt;
    cJSON               *list, *o, *pls, *item, *timing;
    time_t               now;
    struct tm            tm;
    const cJSON         *um;
    sfn_media_out_t     *out;
    sfn_media_rend_t    *r;
    sfn_media_group_t   *g;
    sfn_media_thumbs_t  *th;

    res = cJSON_CreateObject();
    jb = cJSON_AddObjectToObject(res, "Job");
    list = cJSON_CreateArray();

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    cJSON_AddStringToObject(jb, "Id", job_id);
    cJSON_AddStringToObject(jb, "Status", "COMPLETE");
    cJSON_AddNumberToObject(jb, "JobPercentComplete", 100);
    cJSON_AddStringToObject(jb, "CreatedAt", ts);
    timing = cJSON_AddObjectToObject(jb, "Timing");
    cJSON_AddStringToObject(timing, "FinishTime", ts);
    cJSON_AddNumberToObject(timing, "ElapsedSeconds",
                            floor(elapsed * 1000) / 1000);
    cJSON_AddItemToObject(jb, "Settings", cJSON_Duplicate(settings, 1));

    um = cJSON_GetObjectItemCaseSensitive(job->call->input, "UserMetadata");
    if (um) {
        cJSON_AddItemToObject(jb, "UserMetadata", cJSON_Duplicate(um, 1));
    }

    ogd = cJSON_AddArrayToObject(jb, "OutputGroupDetails");

    for (i = 0; i < job->set.ngroups; i++) {
        g = &job->set.groups[i];
        gd = cJSON_CreateObject();
        cJSON_AddItemToArray(ogd, gd);
        cJSON_AddStringToObject(gd, "Type", g->gtype);
        ods = cJSON_AddArrayToObject(gd, "OutputDetails");

        if (g->type != SFN_MEDIA_MP4) {
            snprintf(buf, sizeof(buf), "%s%s.m3u8", g->prefix, g->base);
            pls = cJSON_AddArrayToObject(gd, "PlaylistFilePaths");
            sfn_media_s3(url, sizeof(url), g->bucket_name, buf);
            cJSON_AddItemToArray(pls, cJSON_CreateString(url));

            item = cJSON_CreateObject();

            cJSON_AddStringToObject(item, "format", "hls");
            cJSON_AddStringToObject(item, "group", g->name);
            cJSON_AddStringToObject(item, "bucket", g->bucket_name);
            cJSON_AddStringToObject(item, "key", buf);
            cJSON_AddStringToObject(item, "segmentType",
                                    g->type == SFN_MEDIA_HLS_FMP4
                                    ? "fmp4" : "ts");
            cJSON_AddNumberToObject(item, "segmentLength", g->seglen);
            cJSON_AddItemToObject(item, "renditions", cJSON_CreateArray());
            cJSON_AddItemToArray(list, item);
        }

        for (j = 0; j < job->nouts; j++) {
            out = &job->outs[j];

            if (out->def.group != i) {
                continue;
            }

            od = cJSON_CreateObject();
            cJSON_AddItemToArray(ods, od);
            paths = cJSON_AddArrayToObject(od, "OutputFilePaths");
            sfn_media_s3(buf, sizeof(buf), g->bucket_name, out->key);
            cJSON_AddItemToArray(paths, cJSON_CreateString(buf));
            cJSON_AddNumberToObject(od, "DurationInMs",
                                    floor(out->duration * 1000));

            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "format",
                                    out->def.type == SFN_MEDIA_MP4
                                    ? "mp4" : "hls");
            cJSON_AddStringToObject(o, "group", g->name);
            cJSON_AddStringToObject(o, "bucket", g->bucket_name);
            cJSON_AddStringToObject(o, "key", out->key);
            cJSON_AddNumberToObject(o, "duration",
                                    floor(out->duration * 1000) / 1000);

            if (out->def.rend >= 0) {
                r = &job->rends[out->def.rend];
                vdt = cJSON_AddObjectToObject(od, "VideoDetails");
                cJSON_AddNumberToObject(vdt, "WidthInPx", r->ow);
                cJSON_AddNumberToObject(vdt, "HeightInPx", r->oh);

                cJSON_AddNumberToObject(o, "width", r->ow);
                cJSON_AddNumberToObject(o, "height", r->oh);
                cJSON_AddNumberToObject(o, "videoBitrate",
                    out->duration > 0
                    ? floor(r->bytes * 8 / out->duration) : 0);
                cJSON_AddStringToObject(o, "codecs", r->codecs);
            }

            cJSON_AddBoolToObject(o, "audio", out->def.aenc >= 0);

            if (out->def.type == SFN_MEDIA_MP4) {
                snprintf(buf, sizeof(buf), "%s/%s",
                         job->set.buckets[g->bucket].root, out->key);
                cJSON_AddNumberToObject(o, "size",
                                        (double) sfn_media_file_size(buf));
                cJSON_AddItemToArray(list, o);

            } else {
                /* a variant: listed under its master playlist */

                n = cJSON_GetArraySize(list);

                for (k = n - 1; k >= 0; k--) {
                    item = cJSON_GetArrayItem(list, k);

                    if (strcmp(sfn_task_string(item, "group"), g->name) == 0
                        && cJSON_GetObjectItemCaseSensitive(item,
                                                            "renditions"))
                    {
                        cJSON_AddItemToArray(
                            cJSON_GetObjectItemCaseSensitive(item,
                                                             "renditions"),
                            o);
                        cJSON_DeleteItemFromObject(item, "duration");
                        cJSON_AddNumberToObject(item, "duration",
                            floor(out->duration * 1000) / 1000);
                        o = NULL;
                        break;
                    }
                }

                if (o) {
                    cJSON_AddItemToArray(list, o);
                }
            }
        }

        for (j = 0; j < job->nthumbs; j++) {
            th = &job->thumbs[j];

            if (th->def.group != i) {
                continue;
            }

            od = cJSON_CreateObject();
            cJSON_AddItemToArray(ods, od);
            paths = cJSON_AddArrayToObject(od, "OutputFilePaths");

            for (k = 0; k < cJSON_GetArraySize(th->files); k++) {
                item = cJSON_GetArrayItem(th->files, k);
                sfn_media_s3(buf, sizeof(buf), g->bucket_name,
                             sfn_task_string(item, "key"));
                cJSON_AddItemToArray(paths, cJSON_CreateString(buf));
            }

            vdt = cJSON_AddObjectToObject(od, "VideoDetails");
            cJSON_AddNumberToObject(vdt, "WidthInPx", th->def.width);
            cJSON_AddNumberToObject(vdt, "HeightInPx", th->def.height);

            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "format", "thumbnails");
            cJSON_AddStringToObject(o, "group", g->name);
            cJSON_AddStringToObject(o, "bucket", g->bucket_name);
            snprintf(buf, sizeof(buf), "%s", g->prefix);
            cJSON_AddStringToObject(o, "prefix", buf);
            cJSON_AddNumberToObject(o, "width", th->def.width);
            cJSON_AddNumberToObject(o, "height", th->def.height);
            cJSON_AddNumberToObject(o, "count", th->count);
            cJSON_AddItemToObject(o, "files",
                                  cJSON_Duplicate(th->files, 1));
            cJSON_AddItemToArray(list, o);
        }
    }

    cJSON_AddItemToObject(res, "outputs", list);

    return res;
}


static void
sfn_media_job_free(sfn_media_job_t *job)
{
    int  i;

    for (i = 0; i < job->nrends; i++) {
        sfn_media_rend_stop(&job->rends[i], 1);
        sfn_media_filter_free(&job->rends[i].filter);
        avcodec_free_context(&job->rends[i].enc);
    }

    for (i = 0; i < job->naencs; i++) {
        avcodec_free_context(&job->aencs[i].enc);
        swr_free(&job->aencs[i].swr);

        if (job->aencs[i].fifo) {
            av_audio_fifo_free(job->aencs[i].fifo);
        }

        av_frame_free(&job->aencs[i].frame);
    }

    for (i = 0; i < job->nouts; i++) {
        if (job->outs[i].mux) {
            if (job->outs[i].mux->pb
                && !(job->outs[i].mux->oformat->flags & AVFMT_NOFILE))
            {
                avio_closep(&job->outs[i].mux->pb);
            }

            avformat_free_context(job->outs[i].mux);
            job->outs[i].mux = NULL;
            pthread_mutex_destroy(&job->outs[i].mutex);
        }
    }

    for (i = 0; i < job->nthumbs; i++) {
        sfn_media_filter_free(&job->thumbs[i].filter);
        avcodec_free_context(&job->thumbs[i].enc);
        cJSON_Delete(job->thumbs[i].files);
        job->thumbs[i].files = NULL;
    }

    for (i = 0; i < job->set.nbuckets; i++) {
        if (job->tmp[i][0]) {
            sfn_media_rmtree(job->tmp[i]);
            job->tmp[i][0] = '\0';
        }
    }

    sfn_media_input_close(&job->in);
    pthread_mutex_destroy(&job->err_mutex);
}


/* parses the Settings and lays the job out after them */

static int
sfn_media_job_plan(sfn_media_job_t *job, const cJSON *settings)
{
    int                    i;
    sfn_media_settings_t  *set;

    set = &job->set;

    if (sfn_media_settings_parse(job->call, settings, set) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    for (i = 0; i < set->nvspecs; i++) {
        job->rends[i].spec = set->vspecs[i];
    }

    for (i = 0; i < set->naspecs; i++) {
        job->aencs[i].spec = set->aspecs[i];
    }

    for (i = 0; i < set->noutputs; i++) {
        job->outs[i].def = set->outputs[i];
    }

    for (i = 0; i < set->ncaptures; i++) {
        job->thumbs[i].def = set->captures[i];
    }

    job->nrends = set->nvspecs;
    job->naencs = set->naspecs;
    job->nouts = set->noutputs;
    job->nthumbs = set->ncaptures;

    return SFN_TASK_OK;
}


/* runs a job whose Settings are parsed; fills call->output on success */

static int
sfn_media_execute(sfn_media_job_t *job, const cJSON *settings,
    const char *job_id)
{
    int                i, rc;
    char               tmpl[SFN_MEDIA_PATH_MAX];
    sfn_task_call_t   *call;
    sfn_media_out_t   *out;

    call = job->call;

    if (sfn_media_input_open(call, &job->in, job->set.src_path,
                             job->set.src_name, 1)
        != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    if ((job->nrends || job->nthumbs) && job->in.vindex < 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"%s\" has no video stream", job->set.src_name);
    }

    /* a source without audio gives outputs without audio */

    if (job->in.aindex < 0) {
        for (i = 0; i < job->nouts; i++) {
            job->outs[i].def.aenc = -1;

            if (job->outs[i].def.rend < 0) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "\"%s\" has no audio stream",
                                     job->set.src_name);
            }
        }

        job->naencs = 0;
    }

    for (i = 0; i < job->set.nbuckets; i++) {
        snprintf(tmpl, sizeof(tmpl), "%s/.sfn-job-XXXXXX",
                 job->set.buckets[i].root);

        if (mkdtemp(tmpl) == NULL) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "mkdtemp \"%s\" failed: %s", tmpl,
                                 strerror(errno));
        }

        snprintf(job->tmp[i], sizeof(job->tmp[i]), "%s",
                 tmpl);
    }

    for (i = 0; i < job->nrends; i++) {
        if (sfn_media_rend_open(job, &job->rends[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    for (i = 0; i < job->naencs; i++) {
        if (sfn_media_aenc_open(job, &job->aencs[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    for (i = 0; i < job->nthumbs; i++) {
        if (sfn_media_thumbs_open(job, &job->thumbs[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    for (i = 0; i < job->nouts; i++) {
        if (sfn_media_out_open(job, &job->outs[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    for (i = 0; i < job->nrends; i++) {
        if (sfn_media_rend_start(&job->rends[i]) != 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "pthread_create() failed");
        }
    }

    job->started = sfn_media_now();

    rc = sfn_media_run(job);

    for (i = 0; i < job->nrends; i++) {
        sfn_media_rend_stop(&job->rends[i], rc < 0);
    }

    if (rc == 0 && job->err[0]) {
        rc = AVERROR_EXTERNAL;
    }

    if (rc < 0) {
        if (sfn_media_cancelled(call) || rc == AVERROR_EXIT) {
            return sfn_task_fail(call, "States.Timeout",
                                 "job %s: cancelled", job_id);
        }

        if (job->err[0]) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "job %s: \"%s\": %s", job_id,
                                 job->set.src_name, job->err);
        }

        return sfn_media_fail_av(call, job->set.src_name, "transcoding failed",
                                 rc);
    }

    /* MediaConvert fails a job whose input gives nothing: so do we */

    if ((job->nrends || job->nthumbs) && job->frames == 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "job %s: \"%s\": no video frame could be "
                             "decoded", job_id, job->set.src_name);
    }

    if (job->naencs && job->aframes == 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "job %s: \"%s\": no audio frame could be "
                             "decoded", job_id, job->set.src_name);
    }

    for (i = 0; i < job->nthumbs; i++) {
        if (job->thumbs[i].count == 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "job %s: \"%s\": no frame to capture at or "
                                 "after %g s", job_id, job->set.src_name,
                                 job->thumbs[i].def.offset);
        }
    }

    for (i = 0; i < job->nouts; i++) {
        out = &job->outs[i];

        rc = av_write_trailer(out->mux);

        if (rc >= 0 && out->def.type == SFN_MEDIA_MP4) {
            out->duration = out->end;
            rc = avio_closep(&out->mux->pb);
        }

        if (rc < 0) {
            return sfn_media_fail_av(call, out->key, "cannot be finished",
                                     rc);
        }
    }

    for (i = 0; i < job->set.ngroups; i++) {
        if (job->set.groups[i].type != SFN_MEDIA_MP4
            && !job->set.groups[i].thumbs
            && sfn_media_master(job, &job->set.groups[i], NULL) != SFN_TASK_OK)
        {
            return SFN_TASK_FAILED;
        }
    }

    if (sfn_media_cancelled(call)) {
        return sfn_task_fail(call, "States.Timeout", "job %s: cancelled",
                             job_id);
    }

    for (i = 0; i < job->set.nbuckets; i++) {
        if (sfn_media_commit_dir(job, job->tmp[i],
                                 job->set.buckets[i].root, "")
            != SFN_TASK_OK)
        {
            return SFN_TASK_FAILED;
        }
    }

    sfn_media_progress(job, 1);

    call->output = sfn_media_result(job, settings, job_id,
                                    sfn_media_now() - job->started);

    return SFN_TASK_OK;
}


static void
sfn_media_job_id(sfn_task_call_t *call, char *buf, size_t size)
{
    unsigned        seed;
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    seed = (unsigned) (tv.tv_usec ^ (uintptr_t) call ^ tv.tv_sec);

    /* MediaConvert's shape: milliseconds, a dash, six characters */

    snprintf(buf, size, "%lld-%06x",
             (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000,
             rand_r(&seed) & 0xffffff);
}


int
sfn_media_transcode(sfn_task_call_t *call)
{
    int               rc;
    char              job_id[64];
    cJSON            *own;
    const cJSON      *settings;
    sfn_media_job_t  *job;

    sfn_media_init();

    settings = cJSON_GetObjectItemCaseSensitive(call->input, "Settings");
    own = NULL;

    if (settings == NULL
        && cJSON_GetObjectItemCaseSensitive(call->input, "OutputGroups"))
    {
        settings = call->input;
    }

    if (settings == NULL) {
        own = sfn_media_settings_from_spec(call, call->input);
        if (own == NULL) {
            return SFN_TASK_FAILED;
        }

        settings = own;
    }

    job = calloc(1, sizeof(sfn_media_job_t));
    if (job == NULL) {
        cJSON_Delete(own);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    job->call = call;
    job->in.vindex = -1;
    job->in.aindex = -1;
    pthread_mutex_init(&job->err_mutex, NULL);

    sfn_media_job_id(call, job_id, sizeof(job_id));

    rc = sfn_media_job_plan(job, settings);

    if (rc == SFN_TASK_OK) {
        rc = sfn_media_execute(job, settings, job_id);
    }

    sfn_media_job_free(job);
    free(job);
    cJSON_Delete(own);

    return rc;
}


/*
 * sfn:media:thumbnails
 *   {"bucket", "key", "outputBucket"?, "prefix"?, "count": 5,
 *    "interval"?: seconds (default: spread over the duration),
 *    "width": 640, "height": 360, "quality": 80}
 * -> {"thumbnails": [{"bucket", "key", "time", "width", "height", "size"}],
 *     "count", "width", "height"}
 */

int
sfn_media_thumbnails(sfn_task_call_t *call)
{
    int                 rc, n;
    char                dest[2048], job_id[64], base[256];
    cJSON              *out, *settings, *og, *o, *vd, *cs, *fc, *in;
    double              interval, count, offset;
    const char         *bucket, *key, *obucket, *prefix, *nm, *p;
    sfn_media_job_t    *job;
    sfn_media_input_t   probe;
    char                path[SFN_MEDIA_PATH_MAX];

    sfn_media_init();

    bucket = sfn_task_string(call->input, "bucket");
    key = sfn_task_string(call->input, "key");

    if (sfn_task_bucket_path(call, bucket, key, path, sizeof(path)) == NULL) {
        return SFN_TASK_FAILED;
    }

    if (sfn_task_opt_string(call, call->input, "outputBucket", &obucket)
        != SFN_TASK_OK
        || sfn_task_opt_string(call, call->input, "prefix", &prefix)
           != SFN_TASK_OK
        || sfn_task_opt_string(call, call->input, "nameModifier", &nm)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    count = sfn_media_number(call->input, "count", 5);
    interval = sfn_media_number(call->input, "interval", 0);
    offset = sfn_media_number(call->input, "offset", -1);

    if (!(count >= 1 && count <= 1000) || !(interval >= 0 && interval < 1e9)
        || !(offset < 1e9))
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "invalid \"count\" or \"interval\"");
    }

    /* no interval: spread evenly, in the middle of equal parts */

    if (interval == 0) {
        p = strrchr(key, '/');

        if (sfn_media_input_open(call, &probe, path, p ? p + 1 : key, 0)
            != SFN_TASK_OK)
        {
            sfn_media_input_close(&probe);
            return SFN_TASK_FAILED;
        }

        interval = probe.duration > 0 ? probe.duration / count : 1;
        sfn_media_input_close(&probe);

        if (offset < 0) {
            offset = interval / 2;
        }
    }

    if (offset < 0) {
        offset = 0;
    }

    p = strrchr(key, '/');
    snprintf(base, sizeof(base), "%s", p ? p + 1 : key);
    n = (int) strcspn(base, ".");
    if (n > 0) {
        base[n] = '\0';
    }

    if (prefix == NULL) {
        snprintf(dest, sizeof(dest), "s3://%s/thumbnails/%s/",
                 obucket ? obucket : bucket, base);

    } else {
        snprintf(dest, sizeof(dest), "s3://%s/%s", obucket ? obucket : bucket,
                 prefix);
    }

    settings = cJSON_CreateObject();
    in = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(settings, "Inputs"), in);
    snprintf(path, sizeof(path), "s3://%s/%s", bucket, key);
    cJSON_AddStringToObject(in, "FileInput", path);

    og = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(settings, "OutputGroups"),
                         og);
    cJSON_AddStringToObject(og, "Name", "Thumbnails");
    cs = cJSON_AddObjectToObject(og, "OutputGroupSettings");
    cJSON_AddStringToObject(cs, "Type", "FILE_GROUP_SETTINGS");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cs, "FileGroupSettings"),
                            "Destination", dest);

    o = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(og, "Outputs"), o);
    cJSON_AddStringToObject(o, "NameModifier", nm ? nm : "_thumb_%04d");
    vd = cJSON_AddObjectToObject(o, "VideoDescription");
    cJSON_AddNumberToObject(vd, "Width",
                            sfn_media_number(call->input, "width", 640));
    cJSON_AddNumberToObject(vd, "Height",
                            sfn_media_number(call->input, "height", 360));
    cs = cJSON_AddObjectToObject(vd, "CodecSettings");
    cJSON_AddStringToObject(cs, "Codec", "FRAME_CAPTURE");
    fc = cJSON_AddObjectToObject(cs, "FrameCaptureSettings");
    cJSON_AddNumberToObject(fc, "FramerateNumerator", 1000000);
    cJSON_AddNumberToObject(fc, "FramerateDenominator", interval * 1000000);
    cJSON_AddNumberToObject(fc, "MaxCaptures", count);
    cJSON_AddNumberToObject(fc, "Quality",
                            sfn_media_number(call->input, "quality", 80));
    cJSON_AddNumberToObject(fc, "Offset", offset);

    job = calloc(1, sizeof(sfn_media_job_t));
    if (job == NULL) {
        cJSON_Delete(settings);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    job->call = call;
    job->in.vindex = -1;
    job->in.aindex = -1;
    pthread_mutex_init(&job->err_mutex, NULL);
    sfn_media_job_id(call, job_id, sizeof(job_id));

    rc = sfn_media_job_plan(job, settings);

    if (rc == SFN_TASK_OK) {
        rc = sfn_media_execute(job, settings, job_id);
    }

    if (rc == SFN_TASK_OK) {
        out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "thumbnails",
                              cJSON_Duplicate(job->thumbs[0].files, 1));
        cJSON_AddNumberToObject(out, "count", job->thumbs[0].count);
        cJSON_AddNumberToObject(out, "width", job->thumbs[0].def.width);
        cJSON_AddNumberToObject(out, "height", job->thumbs[0].def.height);
        cJSON_AddNumberToObject(out, "interval", interval);
        cJSON_Delete(call->output);
        call->output = out;
    }

    sfn_media_job_free(job);
    free(job);
    cJSON_Delete(settings);

    return rc;
}
