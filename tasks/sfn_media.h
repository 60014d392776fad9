
/*
 * Copyright (C) ngx_sfn authors
 *
 * Internals shared by the media tasks (sfn_media_*.c).  Plain C on the
 * FFmpeg libraries; no nginx headers.  Everything here is thread safe:
 * per-call state lives in the structures the caller passes.
 */

#ifndef _SFN_MEDIA_H_INCLUDED_
#define _SFN_MEDIA_H_INCLUDED_


#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavutil/frame.h>

#include "sfn_task.h"
#include "sfn_media_settings.h"


/* an opened input: demuxer plus the decoders of its best streams */
typedef struct {
    AVFormatContext      *fmt;
    AVCodecContext       *vdec;
    AVCodecContext       *adec;
    int                   vindex;       /* -1: none */
    int                   aindex;       /* -1: none */
    int                   rotation;     /* clockwise degrees: 0, 90, ... */
    double                duration;     /* seconds, 0 if unknown */
    double                fps;
    int64_t               start;        /* AV_TIME_BASE units */
} sfn_media_input_t;


/* one analysed frame of video: mean luma and the black pixel ratio */
typedef struct {
    double                mean;
    double                black;
} sfn_media_luma_t;


/* what an encoder measured of its own output, as it closed */
typedef struct {
    double                psnr;         /* all planes, from the total SSE */
    double                psnr_y;
    double                psnr_u;
    double                psnr_v;
    double                ssim;         /* luma */
    int                   have_psnr;
    int                   have_ssim;
} sfn_media_enc_stats_t;


void sfn_media_init(void);

/* wall clock seconds, for rates and progress */
double sfn_media_now(void);

/*
 * Closes a drained encoder (the context stays allocated, its parameters
 * readable) and reads the PSNR and SSIM libx264 logs as it closes, when
 * it was opened with AV_CODEC_FLAG_PSNR and "ssim".
 */
void sfn_media_enc_close(AVCodecContext *enc, sfn_media_enc_stats_t *st);

/* the last FFmpeg error logged by this thread, "" if none; then cleared */
const char *sfn_media_last_log(void);

/* an AVIOInterruptCB honouring *env->cancel */
void sfn_media_interrupt(AVIOInterruptCB *cb, const sfn_task_call_t *call);
int sfn_media_cancelled(const sfn_task_call_t *call);

/* fails the call with an FFmpeg error code, naming the file */
int sfn_media_fail_av(sfn_task_call_t *call, const char *name,
    const char *what, int err);

/*
 * Opens a media file for decoding; on failure fills the call's error and
 * cause and returns SFN_TASK_FAILED.  "name" is used in messages.
 */
int sfn_media_input_open(sfn_task_call_t *call, sfn_media_input_t *in,
    const char *path, const char *name, int decoders);
void sfn_media_input_close(sfn_media_input_t *in);

/* display rotation of a stream, clockwise degrees normalized to 0..359 */
int sfn_media_stream_rotation(AVStream *st);

/*
 * The filter chain that turns a decoded picture of w x h (rotation applied
 * first) into an upright yuv420p picture of ow x oh, fitted and padded:
 * the same chain for transcoding, thumbnails and the QC reference.
 */
void sfn_media_scale_chain(char *buf, size_t size, int rotation, int ow,
    int oh, const char *pix_fmt);

/* source -> chain -> sink; frames pushed in, pulled out */
typedef struct {
    AVFilterGraph        *graph;
    AVFilterContext      *src;
    AVFilterContext      *sink;
} sfn_media_filter_t;

int sfn_media_filter_init(sfn_media_filter_t *f, AVCodecContext *dec,
    AVRational tb, const char *chain);
void sfn_media_filter_free(sfn_media_filter_t *f);

/* mean luma and ratio of pixels below the black threshold */
void sfn_media_luma(const AVFrame *frame, sfn_media_luma_t *l);

/* output file helpers */
int sfn_media_mkdirs(const char *path, int last);
void sfn_media_rmtree(const char *path);
long long sfn_media_file_size(const char *path);

int sfn_media_job_record(sfn_task_call_t *call, cJSON *attrs,
    const char *stamp);

/* the task handlers */
int sfn_media_probe(sfn_task_call_t *call);
int sfn_media_transcode(sfn_task_call_t *call);
int sfn_media_thumbnails(sfn_task_call_t *call);
int sfn_media_qc(sfn_task_call_t *call);


#endif /* _SFN_MEDIA_H_INCLUDED_ */
