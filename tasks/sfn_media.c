
/*
 * Copyright (C) ngx_sfn authors
 *
 * What the media tasks share: FFmpeg set-up and logging, cancellation,
 * opening and decoding an input, scale filters, luma statistics, files
 * and directories, s3:// URLs and the job record.
 */


#include <errno.h>
#include <stdarg.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "sfn_media.h"
#include "sfn_task_int.h"


const sfn_task_def_t  sfn_task_media_defs[] = {
    { "sfn:media:probe", sfn_media_probe },
    { "sfn:media:transcode", sfn_media_transcode },
    { "sfn:media:thumbnails", sfn_media_thumbnails },
    { "sfn:media:qc", sfn_media_qc },
    { NULL, NULL }
};


static pthread_once_t      sfn_media_once = PTHREAD_ONCE_INIT;
static int                 sfn_media_debug;
static __thread char       sfn_media_log[512];

/* the encoder this thread is closing, and where its summary goes */
static __thread void                    *sfn_media_closing;
static __thread sfn_media_enc_stats_t   *sfn_media_closing_stats;


/*
 * libx264 reports its PSNR and SSIM, measured on its reconstruction (the
 * picture any decoder gives, bit for bit) against the frames it was given,
 * only in the summary it logs when it closes: libavcodec 59 passes neither
 * per-frame figure on.  These are the two lines of that summary.
 */

static void
sfn_media_log_stats(const char *fmt, va_list args)
{
    char                    line[512];
    double                  y, u, v, avg, global;
    sfn_media_enc_stats_t  *st;

    st = sfn_media_closing_stats;

    vsnprintf(line, sizeof(line), fmt, args);

    if (sscanf(line, "PSNR Mean Y:%lf U:%lf V:%lf Avg:%lf Global:%lf",
               &y, &u, &v, &avg, &global)
        == 5)
    {
        st->psnr_y = y;
        st->psnr_u = u;
        st->psnr_v = v;
        st->psnr = global;
        st->have_psnr = 1;

    } else if (sscanf(line, "SSIM Mean Y:%lf", &y) == 1) {
        st->ssim = y;
        st->have_ssim = 1;
    }
}


static void
sfn_media_log_cb(void *avcl, int level, const char *fmt, va_list args)
{
    size_t   len;
    va_list  copy;

    if (sfn_media_debug) {
        va_copy(copy, args);
        av_log_default_callback(avcl, level, fmt, copy);
        va_end(copy);
    }

    if (avcl && avcl == sfn_media_closing && level == AV_LOG_INFO) {
        va_copy(copy, args);
        sfn_media_log_stats(fmt, copy);
        va_end(copy);
        return;
    }

    if (level > AV_LOG_ERROR) {
        return;
    }

    /* keep the first error of a sequence: later ones are consequences */

    if (sfn_media_log[0] != '\0') {
        return;
    }

    vsnprintf(sfn_media_log, sizeof(sfn_media_log), fmt, args);

    len = strlen(sfn_media_log);
    while (len && (sfn_media_log[len - 1] == '\n'
                   || sfn_media_log[len - 1] == '.'
                   || sfn_media_log[len - 1] == ' '))
    {
        sfn_media_log[--len] = '\0';
    }
}


static void
sfn_media_init_once(void)
{
    sfn_media_debug = getenv("SFN_MEDIA_DEBUG") != NULL;
    av_log_set_callback(sfn_media_log_cb);
}


void
sfn_media_init(void)
{
    pthread_once(&sfn_media_once, sfn_media_init_once);
    sfn_media_log[0] = '\0';
}


const char *
sfn_media_last_log(void)
{
    static __thread char  last[512];

    memcpy(last, sfn_media_log, sizeof(last));
    sfn_media_log[0] = '\0';

    return last;
}


double
sfn_media_now(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return tv.tv_sec + tv.tv_usec / 1e6;
}


void
sfn_media_enc_close(AVCodecContext *enc, sfn_media_enc_stats_t *st)
{
    memset(st, 0, sizeof(sfn_media_enc_stats_t));

    sfn_media_closing = enc;
    sfn_media_closing_stats = st;

    avcodec_close(enc);

    sfn_media_closing = NULL;
    sfn_media_closing_stats = NULL;
}


static int
sfn_media_interrupt_cb(void *data)
{
    const sfn_task_call_t  *call = data;

    return sfn_media_cancelled(call);
}


void
sfn_media_interrupt(AVIOInterruptCB *cb, const sfn_task_call_t *call)
{
    cb->callback = sfn_media_interrupt_cb;
    cb->opaque = (void *) call;
}


int
sfn_media_cancelled(const sfn_task_call_t *call)
{
    return call->env && call->env->cancel && *call->env->cancel;
}


int
sfn_media_fail_av(sfn_task_call_t *call, const char *name, const char *what,
    int err)
{
    char         buf[AV_ERROR_MAX_STRING_SIZE];
    const char  *log;

    if (sfn_media_cancelled(call) || err == AVERROR_EXIT) {
        return sfn_task_fail(call, "States.Timeout", "\"%s\": cancelled",
                             name);
    }

    av_strerror(err, buf, sizeof(buf));
    log = sfn_media_last_log();

    if (log[0] && strstr(buf, log) == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "\"%s\" %s: %s (%s)",
                             name, what, buf, log);
    }

    return sfn_task_fail(call, "States.TaskFailed", "\"%s\" %s: %s",
                         name, what, buf);
}


int
sfn_media_stream_rotation(AVStream *st)
{
    int       r;
    double    theta;
    uint8_t  *m;

    m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (m == NULL) {
        return 0;
    }

    /* av_display_rotation_get() is counterclockwise */

    theta = -av_display_rotation_get((int32_t *) m);
    if (theta != theta) {
        return 0;
    }

    r = (int) (theta >= 0 ? theta + 0.5 : theta - 0.5);
    r %= 360;

    if (r < 0) {
        r += 360;
    }

    /* only right angles are applied */

    return (r + 45) / 90 * 90 % 360;
}


static int
sfn_media_check_truncated(sfn_task_call_t *call, sfn_media_input_t *in,
    const char *name)
{
    int64_t                   fsize, end;
    unsigned                  i;
    AVStream                 *st;
    const AVIndexEntry       *e;

    if (in->fmt->pb == NULL) {
        return SFN_TASK_OK;
    }

    fsize = avio_size(in->fmt->pb);
    if (fsize <= 0) {
        return SFN_TASK_OK;
    }

    /* formats with a sample index (MP4, MOV) tell where their data ends */

    for (i = 0; i < in->fmt->nb_streams; i++) {
        st = in->fmt->streams[i];

        if (avformat_index_get_entries_count(st) == 0) {
            continue;
        }

        e = avformat_index_get_entry(st,
                                     avformat_index_get_entries_count(st) - 1);
        if (e == NULL) {
            continue;
        }

        end = e->pos + e->size;

        if (e->size > 0 && end > fsize) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"%s\" is truncated: stream %u needs %lld "
                                 "bytes, the file has %lld", name, i,
                                 (long long) end, (long long) fsize);
        }
    }

    return SFN_TASK_OK;
}


static int
sfn_media_open_decoder(sfn_task_call_t *call, sfn_media_input_t *in,
    int index, AVCodecContext **out, const char *name)
{
    int               rc;
    AVStream         *st;
    const AVCodec    *codec;
    AVCodecContext   *c;

    st = in->fmt->streams[index];

    codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (codec == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"%s\": no decoder for %s stream %d (%s)", name,
                             av_get_media_type_string(
                                 st->codecpar->codec_type),
                             index, avcodec_get_name(st->codecpar->codec_id));
    }

    c = avcodec_alloc_context3(codec);
    if (c == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    *out = c;

    rc = avcodec_parameters_to_context(c, st->codecpar);
    if (rc < 0) {
        return sfn_media_fail_av(call, name, "decoder parameters", rc);
    }

    c->pkt_timebase = st->time_base;
    c->thread_count = 0;

    if (codec->capabilities & AV_CODEC_CAP_FRAME_THREADS) {
        c->thread_type = FF_THREAD_FRAME;
    }

    rc = avcodec_open2(c, codec, NULL);
    if (rc < 0) {
        return sfn_media_fail_av(call, name, "cannot open decoder", rc);
    }

    return SFN_TASK_OK;
}


/* an ISO BMFF file starts with an "ftyp" box: then a failure is damage */

static int
sfn_media_is_mp4(const char *path)
{
    FILE           *f;
    size_t          n;
    unsigned char   buf[8];

    f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }

    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);

    return n == sizeof(buf) && memcmp(buf + 4, "ftyp", 4) == 0;
}


int
sfn_media_input_open(sfn_task_call_t *call, sfn_media_input_t *in,
    const char *path, const char *name, int decoders)
{
    int               rc;
    AVStream         *st;
    AVRational        r;
    AVDictionary     *opts;

    sfn_media_init();

    memset(in, 0, sizeof(sfn_media_input_t));
    in->vindex = -1;
    in->aindex = -1;

    in->fmt = avformat_alloc_context();
    if (in->fmt == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    sfn_media_interrupt(&in->fmt->interrupt_callback, call);

    opts = NULL;
    av_dict_set(&opts, "protocol_whitelist", "file,crypto,data", 0);

    rc = avformat_open_input(&in->fmt, path, NULL, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        if (rc == AVERROR(ENOENT)) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"%s\" does not exist", name);
        }

        if (rc == AVERROR_INVALIDDATA) {
            return sfn_media_fail_av(call, name,
                                     sfn_media_is_mp4(path)
                                     ? "is truncated or incomplete"
                                     : "is not a media file", rc);
        }

        return sfn_media_fail_av(call, name, "cannot be opened", rc);
    }

    rc = avformat_find_stream_info(in->fmt, NULL);
    if (rc < 0) {
        return sfn_media_fail_av(call, name, "is not a media file", rc);
    }

    in->vindex = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, -1, -1,
                                     NULL, 0);
    in->aindex = av_find_best_stream(in->fmt, AVMEDIA_TYPE_AUDIO, -1, -1,
                                     NULL, 0);

    if (in->vindex >= 0
        && (in->fmt->streams[in->vindex]->disposition
            & AV_DISPOSITION_ATTACHED_PIC))
    {
        in->vindex = -1;
    }

    if (in->vindex < 0) {
        in->vindex = -1;
    }

    if (in->aindex < 0) {
        in->aindex = -1;
    }

    if (in->vindex < 0 && in->aindex < 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"%s\" is not a media file: it has no audio "
                             "or video stream", name);
    }

    if (sfn_media_check_truncated(call, in, name) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    if (in->vindex >= 0) {
        st = in->fmt->streams[in->vindex];

        if (st->codecpar->width <= 0 || st->codecpar->height <= 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"%s\" is not a media file: its video "
                                 "stream has no picture size", name);
        }

        in->rotation = sfn_media_stream_rotation(st);

        r = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
        in->fps = r.num && r.den ? av_q2d(r) : 0;
    }

    in->start = in->fmt->start_time != AV_NOPTS_VALUE
                ? in->fmt->start_time : 0;

    if (in->fmt->duration > 0) {
        in->duration = in->fmt->duration / (double) AV_TIME_BASE;
    }

    if (!decoders) {
        return SFN_TASK_OK;
    }

    if (in->vindex >= 0
        && sfn_media_open_decoder(call, in, in->vindex, &in->vdec, name)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    if (in->aindex >= 0
        && sfn_media_open_decoder(call, in, in->aindex, &in->adec, name)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    return SFN_TASK_OK;
}


void
sfn_media_input_close(sfn_media_input_t *in)
{
    avcodec_free_context(&in->vdec);
    avcodec_free_context(&in->adec);
    avformat_close_input(&in->fmt);
}


void
sfn_media_scale_chain(char *buf, size_t size, int rotation, int ow, int oh,
    const char *pix_fmt)
{
    const char  *rot;

    switch (rotation) {
    case 90:
        rot = "transpose=clock,";
        break;
    case 180:
        rot = "hflip,vflip,";
        break;
    case 270:
        rot = "transpose=cclock,";
        break;
    default:
        rot = "";
    }

    snprintf(buf, size,
             "%sscale=%d:%d:flags=bicubic:force_original_aspect_ratio=decrease"
             ":force_divisible_by=2,pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1,"
             "format=%s",
             rot, ow, oh, ow, oh, pix_fmt ? pix_fmt : "yuv420p");
}


int
sfn_media_filter_init(sfn_media_filter_t *f, AVCodecContext *dec,
    AVRational tb, const char *chain)
{
    int              rc;
    char             args[256];
    AVFilterInOut   *outputs, *inputs;

    memset(f, 0, sizeof(sfn_media_filter_t));

    f->graph = avfilter_graph_alloc();
    if (f->graph == NULL) {
        return AVERROR(ENOMEM);
    }

    /* the caller runs one graph per thread; scaling threads are ours */

    f->graph->nb_threads = 1;

    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:"
             "pixel_aspect=%d/%d",
             dec->width, dec->height, dec->pix_fmt, tb.num, tb.den,
             dec->sample_aspect_ratio.num ? dec->sample_aspect_ratio.num : 1,
             dec->sample_aspect_ratio.num ? dec->sample_aspect_ratio.den : 1);

    rc = avfilter_graph_create_filter(&f->src, avfilter_get_by_name("buffer"),
                                      "in", args, NULL, f->graph);
    if (rc < 0) {
        return rc;
    }

    rc = avfilter_graph_create_filter(&f->sink,
                                      avfilter_get_by_name("buffersink"),
                                      "out", NULL, NULL, f->graph);
    if (rc < 0) {
        return rc;
    }

    outputs = avfilter_inout_alloc();
    inputs = avfilter_inout_alloc();

    if (outputs == NULL || inputs == NULL) {
        avfilter_inout_free(&outputs);
        avfilter_inout_free(&inputs);
        return AVERROR(ENOMEM);
    }

    outputs->name = av_strdup("in");
    outputs->filter_ctx = f->src;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = f->sink;

    rc = avfilter_graph_parse_ptr(f->graph, chain, &inputs, &outputs, NULL);

    avfilter_inout_free(&outputs);
    avfilter_inout_free(&inputs);

    if (rc < 0) {
        return rc;
    }

    return avfilter_graph_config(f->graph, NULL);
}


void
sfn_media_filter_free(sfn_media_filter_t *f)
{
    avfilter_graph_free(&f->graph);
    f->src = NULL;
    f->sink = NULL;
}


void
sfn_media_luma(const AVFrame *frame, sfn_media_luma_t *l)
{
    int             x, y, step, w, h, hi;
    uint64_t        sum, n, black;
    const uint8_t  *p;
    const uint16_t *q;

    /*
     * 8-bit or native 16-bit little endian planar luma, every 4th pixel
     * of every 4th row: a frame is black all over or not at all
     */

    w = frame->width;
    h = frame->height;
    hi = av_pix_fmt_desc_get(frame->format)
         && av_pix_fmt_desc_get(frame->format)->comp[0].depth > 8;

    sum = 0;
    n = 0;
    black = 0;
    step = 4;

    for (y = 0; y < h; y += step) {
        if (hi) {
            q = (const uint16_t *) (frame->data[0] + y * frame->linesize[0]);

            for (x = 0; x < w; x += step) {
                sum += q[x] >> 2;
                black += (q[x] >> 2) <= 38;
                n++;
            }

            continue;
        }

        p = frame->data[0] + y * frame->linesize[0];

        for (x = 0; x < w; x += step) {
            sum += p[x];
            black += p[x] <= 38;
            n++;
        }
    }

    l->mean = n ? (double) sum / n : 0;
    l->black = n ? (double) black / n : 0;
}


int
sfn_media_mkdirs(const char *path, int last)
{
    char    buf[SFN_MEDIA_PATH_MAX];
    char   *p;
    size_t  len;

    len = strlen(path);
    if (len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    memcpy(buf, path, len + 1);

    for (p = buf + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }

        *p = '\0';

        if (mkdir(buf, 0755) == -1 && errno != EEXIST) {
            return -1;
        }

        *p = '/';
    }

    if (last && mkdir(buf, 0755) == -1 && errno != EEXIST) {
        return -1;
    }

    return 0;
}


void
sfn_media_rmtree(const char *path)
{
    char            buf[SFN_MEDIA_PATH_MAX];
    DIR            *dir;
    struct stat     sb;
    struct dirent  *de;

    if (lstat(path, &sb) == -1) {
        return;
    }

    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }

    dir = opendir(path);

    if (dir) {
        while ((de = readdir(dir)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            {
                continue;
            }

            snprintf(buf, sizeof(buf), "%s/%s", path, de->d_name);
            sfn_media_rmtree(buf);
        }

        closedir(dir);
    }

    rmdir(path);
}


long long
sfn_media_file_size(const char *path)
{
    struct stat  sb;

    if (stat(path, &sb) == -1) {
        return -1;
    }

    return (long long) sb.st_size;
}


int
sfn_media_parse_s3(const char *url, char *bucket, size_t bsize, char *rest,
    size_t rsize)
{
    size_t       len;
    const char  *p;

    if (strncmp(url, "s3://", 5) != 0) {
        return -1;
    }

    url += 5;
    p = strchr(url, '/');
    len = p ? (size_t) (p - url) : strlen(url);

    if (len == 0 || len >= bsize) {
        return -1;
    }

    memcpy(bucket, url, len);
    bucket[len] = '\0';

    /* a cut key would be another key */

    return sfn_media_fmt(rest, rsize, "%s", p ? p + 1 : "") < 0 ? -1 : 0;
}


double
sfn_media_number(const cJSON *obj, const char *name, double dflt)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (cJSON_IsNumber(item)) {
        return item->valuedouble;
    }

    if (cJSON_IsString(item) && item->valuestring[0]) {
        return atof(item->valuestring);
    }

    return dflt;
}


int
sfn_media_fmt(char *buf, size_t size, const char *fmt, ...)
{
    int      n;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(buf, size, fmt, args);
    va_end(args);

    return n < 0 || (size_t) n >= size ? -1 : n;
}


/*
 * The seed's Lambdas also write what they found into the job's row: with a
 * database and a "jobId" in the input, attrs (consumed) and a timestamp
 * named stamp are merged into the row's attributes.  Without a database
 * (the sfn tool) there is no row to write.
 */

int
sfn_media_job_record(sfn_task_call_t *call, cJSON *attrs, const char *stamp)
{
    int          rc;
    char         now[40];
    const char  *job;

    job = sfn_task_string(call->input, "jobId");

    if (job == NULL || call->env == NULL || call->env->db_conninfo == NULL) {
        cJSON_Delete(attrs);
        return SFN_TASK_OK;
    }

    cJSON_AddStringToObject(attrs, stamp, sfn_task_now(now, sizeof(now)));

    rc = sfn_task_db_job_set(call, job, NULL, attrs, NULL, NULL);

    cJSON_Delete(attrs);

    return rc;
}
