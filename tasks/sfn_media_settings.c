
/*
 * Copyright (C) ngx_sfn authors
 *
 * MediaConvert Settings -> the plan of a transcoding job.  MediaConvert's
 * names are kept; what we do not implement is refused with a cause rather
 * than ignored, and every size and count is bounded before it is used.
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_media_settings.h"


static int
sfn_media_bucket(sfn_task_call_t *call, sfn_media_settings_t *set,
    const char *name)
{
    int                  i;
    const char          *root;
    sfn_media_bucket_t  *b;

    for (i = 0; i < set->nbuckets; i++) {
        if (strcmp(set->buckets[i].name, name) == 0) {
            return i;
        }
    }

    root = sfn_task_bucket_root(call, name);
    if (root == NULL) {
        return -1;
    }

    if (set->nbuckets == SFN_MEDIA_MAX_BUCKETS) {
        sfn_task_fail(call, "States.TaskFailed",
                      "too many output buckets");
        return -1;
    }

    b = &set->buckets[set->nbuckets];
    snprintf(b->name, sizeof(b->name), "%s", name);
    snprintf(b->root, sizeof(b->root), "%s", root);

    return set->nbuckets++;
}


static int
sfn_media_destination(sfn_task_call_t *call, sfn_media_settings_t *set,
    sfn_media_group_t *g, const char *dest)
{
    int    n;
    char   bucket[128], rest[1024], probe[2048];
    char  *slash;
    char   path[SFN_MEDIA_PATH_MAX];

    if (dest == NULL
        || sfn_media_parse_s3(dest, bucket, sizeof(bucket), rest,
                              sizeof(rest))
           != 0)
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "output group \"%s\": Destination \"%s\" is not "
                             "s3://bucket/prefix/", g->name,
                             dest ? dest : "");
    }

    g->bucket = sfn_media_bucket(call, set, bucket);
    if (g->bucket < 0) {
        return SFN_TASK_FAILED;
    }

    snprintf(g->bucket_name, sizeof(g->bucket_name), "%s", bucket);

    /* "prefix/" names a folder; "prefix/name" also the files' base name */

    slash = strrchr(rest, '/');

    if (rest[0] == '\0' || (slash && slash[1] == '\0')) {
        n = sfn_media_fmt(g->prefix, sizeof(g->prefix), "%s", rest);
        n |= sfn_media_fmt(g->base, sizeof(g->base), "%s", set->src_base);

    } else if (slash) {
        n = sfn_media_fmt(g->base, sizeof(g->base), "%s", slash + 1);
        slash[1] = '\0';
        n |= sfn_media_fmt(g->prefix, sizeof(g->prefix), "%s", rest);

    } else {
        n = sfn_media_fmt(g->base, sizeof(g->base), "%s", rest);
        g->prefix[0] = '\0';
    }

    if (n < 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "output group \"%s\": Destination is too long",
                             g->name);
    }

    /* the prefix stays inside its bucket as a key does */

    snprintf(probe, sizeof(probe), "%s%s", g->prefix, g->base);

    if (sfn_task_bucket_path(call, bucket, probe, path, sizeof(path))
        == NULL)
    {
        return SFN_TASK_FAILED;
    }

    return SFN_TASK_OK;
}


static const char *
sfn_media_x264_profile(const char *p)
{
    if (p == NULL) {
        return "high";
    }

    if (strcmp(p, "BASELINE") == 0) {
        return "baseline";
    }

    if (strcmp(p, "MAIN") == 0) {
        return "main";
    }

    return "high";
}


static void
sfn_media_x264_level(const char *l, char *buf, size_t size)
{
    int  major, minor;

    buf[0] = '\0';

    /* "LEVEL_4_1" -> "4.1", "AUTO" -> none */

    if (l && sscanf(l, "LEVEL_%d_%d", &major, &minor) == 2) {
        snprintf(buf, size, "%d.%d", major, minor);

    } else if (l && sscanf(l, "LEVEL_%d", &major) == 1) {
        snprintf(buf, size, "%d", major);
    }
}


static int
sfn_media_add_rend(sfn_task_call_t *call, sfn_media_settings_t *set,
    sfn_media_vspec_t *spec)
{
    int  i;

    for (i = 0; i < set->nvspecs; i++) {
        if (memcmp(&set->vspecs[i], spec, sizeof(sfn_media_vspec_t))
            == 0)
        {
            return i;
        }
    }

    if (set->nvspecs == SFN_MEDIA_MAX_RENDS) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "too many distinct video renditions");
    }

    set->vspecs[set->nvspecs] = *spec;

    return set->nvspecs++;
}


static int
sfn_media_add_aenc(sfn_task_call_t *call, sfn_media_settings_t *set,
    sfn_media_aspec_t *spec)
{
    int  i;

    for (i = 0; i < set->naspecs; i++) {
        if (memcmp(&set->aspecs[i], spec, sizeof(sfn_media_aspec_t))
            == 0)
        {
            return i;
        }
    }

    if (set->naspecs == SFN_MEDIA_MAX_AUDIO) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "too many distinct audio encodings");
    }

    set->aspecs[set->naspecs] = *spec;

    return set->naspecs++;
}


/*
 * A number member: dflt when absent or null, else a JSON number or a
 * numeric string (what States.Format gives) within [min, max]; anything
 * else fails the call naming the member.
 */

static int
sfn_media_num(sfn_task_call_t *call, const cJSON *obj, const char *where,
    const char *name, double dflt, double min, double max, double *v)
{
    char         *end;
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (item == NULL || cJSON_IsNull(item)
        || (cJSON_IsString(item) && item->valuestring[0] == '\0'))
    {
        *v = dflt;
        return SFN_TASK_OK;
    }

    if (cJSON_IsNumber(item)) {
        *v = item->valuedouble;

    } else if (cJSON_IsString(item)) {
        *v = strtod(item->valuestring, &end);

        if (*end != '\0') {
            goto invalid;
        }

    } else {
        goto invalid;
    }

    /* NaN fails both */

    if (*v >= min && *v <= max) {
        return SFN_TASK_OK;
    }

invalid:

    return sfn_task_fail(call, "States.TaskFailed",
                         "%s.%s must be a number from %.15g to %.15g",
                         where, name, min, max);
}


static int
sfn_media_bad_modifier(sfn_task_call_t *call, const char *nm)
{
    char  quoted[300];

    sfn_task_quote(quoted, sizeof(quoted), nm ? nm : "", nm ? strlen(nm) : 0);

    return sfn_task_fail(call, "States.TaskFailed",
                         "invalid NameModifier \"%s\"", quoted);
}


/*
 * Every file an output writes is a key a client could name: the main file
 * and, for HLS, the longest segment name (prefix + name + suffix).
 */

static int
sfn_media_output_keys(const sfn_media_group_t *g,
    const sfn_media_output_t *out)
{
    int           n;
    char          key[SFN_KEY_MAX + 64];
    const char  **sfx;

    static const char  *mp4[] = { ".mp4", NULL };
    static const char  *ts[] = { ".m3u8", "_00001.ts", NULL };
    static const char  *fmp4[] = { ".m3u8", "_00001.m4s", "_init.mp4", NULL };

    sfx = out->type == SFN_MEDIA_MP4 ? mp4
          : out->type == SFN_MEDIA_HLS_TS ? ts : fmp4;

    for ( /* void */ ; *sfx; sfx++) {
        n = sfn_media_fmt(key, sizeof(key), "%s%s%s", g->prefix, out->name,
                          *sfx);

        if (n < 0 || !sfn_key_valid(key, n)) {
            return SFN_TASK_FAILED;
        }
    }

    return SFN_TASK_OK;
}


static int
sfn_media_parse_video(sfn_task_call_t *call, const cJSON *vd,
    sfn_media_vspec_t *spec)
{
    char          *p, quoted[64];
    double         w, h, max, br, buf, q, crf, gop;
    const char    *mode, *s;
    const cJSON   *cs, *hs, *qs;

    memset(spec, 0, sizeof(sfn_media_vspec_t));

    cs = cJSON_GetObjectItemCaseSensitive(vd, "CodecSettings");
    hs = cJSON_GetObjectItemCaseSensitive(cs, "H264Settings");
    qs = cJSON_GetObjectItemCaseSensitive(hs, "QvbrSettings");

    if (sfn_media_num(call, vd, "VideoDescription", "Width", 0, 0,
                      SFN_MEDIA_MAX_SIZE, &w)
        != SFN_TASK_OK
        || sfn_media_num(call, vd, "VideoDescription", "Height", 0, 0,
                         SFN_MEDIA_MAX_SIZE, &h)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "MaxBitrate", 0, 0,
                         SFN_MEDIA_MAX_BITRATE, &max)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "Bitrate", 0, 0,
                         SFN_MEDIA_MAX_BITRATE, &br)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "HrdBufferSize", 0, 0,
                         SFN_MEDIA_MAX_BITRATE, &buf)
           != SFN_TASK_OK
        || sfn_media_num(call, qs, "QvbrSettings", "QvbrQualityLevel", 7,
                         -HUGE_VAL, HUGE_VAL, &q)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "Crf", -1, 0, 51, &crf)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "GopSize", 0, 0, 3600,
                         &gop)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    spec->width = (int) w;
    spec->height = (int) h;
    spec->maxrate = (int64_t) max;
    spec->bitrate = (int64_t) br;
    spec->bufsize = (int64_t) buf;
    spec->crf = -1;

    mode = sfn_task_string(hs, "RateControlMode");

    if (mode == NULL || strcmp(mode, "QVBR") == 0) {

        /* QVBR 1..10 onto x264 CRF 36..18: 7 -> 24, 8 -> 22, 10 -> 18 */

        q = q < 1 ? 1 : q > 10 ? 10 : q;
        spec->crf = 38 - 2 * (int) q;
        spec->bitrate = 0;

    } else if (strcmp(mode, "CBR") == 0) {
        if (spec->bitrate <= 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "CBR needs H264Settings.Bitrate");
        }

        spec->maxrate = spec->bitrate;

    } else if (strcmp(mode, "VBR") == 0) {
        if (spec->bitrate <= 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "VBR needs H264Settings.Bitrate");
        }

    } else {
        return sfn_task_fail(call, "States.TaskFailed",
                             "unsupported RateControlMode \"%s\"", mode);
    }

    /* our own extension: an explicit CRF */

    if (crf >= 0) {
        spec->crf = (int) crf;
    }

    if (spec->maxrate > 0 && spec->bufsize <= 0) {
        spec->bufsize = 2 * spec->maxrate;
    }

    snprintf(spec->profile, sizeof(spec->profile), "%s",
             sfn_media_x264_profile(sfn_task_string(hs, "CodecProfile")));
    sfn_media_x264_level(sfn_task_string(hs, "CodecLevel"), spec->level,
                         sizeof(spec->level));

    s = sfn_task_string(hs, "QualityTuningLevel");
    snprintf(spec->preset, sizeof(spec->preset), "%s",
             s == NULL ? "veryfast"
             : strcmp(s, "SINGLE_PASS_HQ") == 0 ? "medium"
             : strcmp(s, "MULTI_PASS_HQ") == 0 ? "slow" : "veryfast");

    s = sfn_task_string(hs, "Preset");
    if (s) {
        if (strlen(s) >= sizeof(spec->preset)) {
            goto preset;
        }

        snprintf(spec->preset, sizeof(spec->preset), "%s", s);

        for (p = spec->preset; *p; p++) {
            if (*p < 'a' || *p > 'z') {
                goto preset;
            }
        }
    }

    s = sfn_task_string(hs, "GopSizeUnits");
    if (s && strcmp(s, "SECONDS") == 0) {
        spec->gop = (int) (gop * 1000);
    }

    return SFN_TASK_OK;

preset:

    sfn_task_quote(quoted, sizeof(quoted), s, strlen(s));

    return sfn_task_fail(call, "States.TaskFailed",
                         "invalid x264 preset \"%s\"", quoted);
}


static int
sfn_media_parse_audio(sfn_task_call_t *call, const cJSON *ads,
    sfn_media_aspec_t *spec)
{
    double         br, sr;
    const char    *mode, *codec;
    const cJSON   *ad, *cs, *aac;

    ad = cJSON_GetArrayItem(ads, 0);
    cs = cJSON_GetObjectItemCaseSensitive(ad, "CodecSettings");
    codec = sfn_task_string(cs, "Codec");

    if (codec && strcmp(codec, "AAC") != 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "unsupported audio codec \"%.64s\"", codec);
    }

    aac = cJSON_GetObjectItemCaseSensitive(cs, "AacSettings");

    if (sfn_media_num(call, aac, "AacSettings", "Bitrate", 128000, 8000,
                      640000, &br)
        != SFN_TASK_OK
        || sfn_media_num(call, aac, "AacSettings", "SampleRate", 48000, 8000,
                         96000, &sr)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    spec->bitrate = (int) br;
    spec->sample_rate = (int) sr;

    mode = sfn_task_string(aac, "CodingMode");
    spec->channels = mode && strcmp(mode, "CODING_MODE_1_0") == 0 ? 1 : 2;

    return SFN_TASK_OK;
}


static int
sfn_media_parse_thumbs(sfn_task_call_t *call, sfn_media_settings_t *set,
    sfn_media_group_t *g, const cJSON *o, const cJSON *vd)
{
    char                  key[SFN_KEY_MAX + 64];
    double                w, h, q, max, num, den, off;
    const char           *nm;
    const cJSON          *fc;
    sfn_media_capture_t  *th;

    if (set->ncaptures == SFN_MEDIA_MAX_THUMBS) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "too many frame captures");
    }

    th = &set->captures[set->ncaptures++];
    memset(th, 0, sizeof(sfn_media_capture_t));

    fc = cJSON_GetObjectItemCaseSensitive(
             cJSON_GetObjectItemCaseSensitive(vd, "CodecSettings"),
             "FrameCaptureSettings");

    if (sfn_media_num(call, vd, "VideoDescription", "Width", 0, 0,
                      SFN_MEDIA_MAX_SIZE, &w)
        != SFN_TASK_OK
        || sfn_media_num(call, vd, "VideoDescription", "Height", 0, 0,
                         SFN_MEDIA_MAX_SIZE, &h)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings", "Quality", 80,
                         -HUGE_VAL, HUGE_VAL, &q)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings", "MaxCaptures", 10,
                         1, 10000, &max)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings",
                         "FramerateNumerator", 1, 0, 1e9, &num)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings",
                         "FramerateDenominator", 10, 0, 1e12, &den)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings", "Offset", 0, 0,
                         1e9, &off)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    th->width = (int) w;
    th->height = (int) h;
    th->quality = q < 1 ? 1 : q > 100 ? 100 : (int) q;
    th->max = (int) max;
    th->interval = num > 0 && den > 0 ? den / num : 10;
    th->offset = off;

    nm = sfn_task_string(o, "NameModifier");

    if (sfn_media_fmt(th->modifier, sizeof(th->modifier), "%s",
                      nm ? nm : "")
        < 0
        || strchr(th->modifier, '/'))
    {
        return sfn_media_bad_modifier(call, nm);
    }

    th->group = (int) (g - set->groups);
    th->bucket = g->bucket;

    if (sfn_media_fmt(th->base, sizeof(th->base), "%s", g->base) < 0
        || sfn_media_fmt(th->prefix, sizeof(th->prefix), "%s", g->prefix)
           < 0)
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "output group \"%s\": Destination is too long",
                             g->name);
    }

    /* the first and the last image name are keys a client could write */

    if (sfn_media_capture_key(th, 0, key, sizeof(key)) < 0
        || !sfn_key_valid(key, strlen(key))
        || sfn_media_capture_key(th, th->max - 1, key, sizeof(key)) < 0
        || !sfn_key_valid(key, strlen(key)))
    {
        return sfn_media_bad_modifier(call, nm);
    }

    return SFN_TASK_OK;
}


int
sfn_media_settings_parse(sfn_task_call_t *call, const cJSON *settings,
    sfn_media_settings_t *set)
{
    int                  i, j, type;
    char                 bucket[128], key[1024];
    const char          *gtype, *container, *codec, *nm, *file, *p;
    const cJSON         *ogs, *og, *ogset, *gs, *outs, *o, *vd, *ads, *cs;
    sfn_media_output_t  *out;
    sfn_media_aspec_t    aspec;
    sfn_media_vspec_t    vspec;
    sfn_media_group_t   *g;

    file = sfn_task_string(cJSON_GetArrayItem(
               cJSON_GetObjectItemCaseSensitive(settings, "Inputs"), 0),
               "FileInput");

    if (file == NULL
        || sfn_media_parse_s3(file, bucket, sizeof(bucket), key,
                              sizeof(key))
           != 0)
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "Settings.Inputs[0].FileInput \"%s\" is not "
                             "s3://bucket/key", file ? file : "");
    }

    if (sfn_task_bucket_path(call, bucket, key, set->src_path,
                             sizeof(set->src_path))
        == NULL)
    {
        return SFN_TASK_FAILED;
    }

    p = strrchr(key, '/');
    sfn_media_fmt(set->src_name, sizeof(set->src_name), "%s", p ? p + 1 : key);
    snprintf(set->src_base, sizeof(set->src_base), "%s", set->src_name);

    p = strrchr(set->src_base, '.');
    if (p && p != set->src_base) {
        set->src_base[p - set->src_base] = '\0';
    }

    ogs = cJSON_GetObjectItemCaseSensitive(settings, "OutputGroups");

    if (!cJSON_IsArray(ogs) || cJSON_GetArraySize(ogs) == 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "Settings.OutputGroups is empty");
    }

    set->seglen = 0;

    for (i = 0; i < cJSON_GetArraySize(ogs); i++) {
        og = cJSON_GetArrayItem(ogs, i);

        if (set->ngroups == SFN_MEDIA_MAX_GROUPS) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "too many output groups");
        }

        g = &set->groups[set->ngroups++];
        memset(g, 0, sizeof(sfn_media_group_t));

        p = sfn_task_string(og, "Name");
        snprintf(g->name, sizeof(g->name), "%s", p ? p : "");

        ogset = cJSON_GetObjectItemCaseSensitive(og, "OutputGroupSettings");
        gtype = sfn_task_string(ogset, "Type");

        if (gtype == NULL) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "output group \"%s\" has no Type", g->name);
        }

        if (strcmp(gtype, "FILE_GROUP_SETTINGS") == 0) {
            gs = cJSON_GetObjectItemCaseSensitive(ogset, "FileGroupSettings");
            g->type = SFN_MEDIA_MP4;
            g->gtype = "FILE_GROUP_SETTINGS";

        } else if (strcmp(gtype, "HLS_GROUP_SETTINGS") == 0) {
            gs = cJSON_GetObjectItemCaseSensitive(ogset, "HlsGroupSettings");
            g->type = SFN_MEDIA_HLS_TS;
            g->gtype = "HLS_GROUP_SETTINGS";

            p = sfn_task_string(gs, "SegmentType");
            if (p && strcmp(p, "FMP4") == 0) {
                g->type = SFN_MEDIA_HLS_FMP4;
            }

        } else if (strcmp(gtype, "CMAF_GROUP_SETTINGS") == 0) {
            gs = cJSON_GetObjectItemCaseSensitive(ogset, "CmafGroupSettings");
            g->type = SFN_MEDIA_HLS_FMP4;
            g->gtype = "CMAF_GROUP_SETTINGS";

        } else {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "output group \"%s\": unsupported Type "
                                 "\"%s\"", g->name, gtype);
        }

        if (sfn_media_destination(call, set, g,
                                  sfn_task_string(gs, "Destination"))
            != SFN_TASK_OK)
        {
            return SFN_TASK_FAILED;
        }

        if (g->type != SFN_MEDIA_MP4) {
            if (sfn_media_num(call, gs,
                              g->type == SFN_MEDIA_HLS_TS
                              || strcmp(g->gtype, "HLS_GROUP_SETTINGS") == 0
                              ? "HlsGroupSettings" : "CmafGroupSettings",
                              "SegmentLength", 6, 1, 60, &g->seglen)
                != SFN_TASK_OK)
            {
                return SFN_TASK_FAILED;
            }

            /* one key frame cadence serves all groups: the shortest */

            if (set->seglen == 0 || g->seglen < set->seglen) {
                set->seglen = g->seglen;
            }
        }

        outs = cJSON_GetObjectItemCaseSensitive(og, "Outputs");

        if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) == 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "output group \"%s\": Outputs is empty",
                                 g->name);
        }

        for (j = 0; j < cJSON_GetArraySize(outs); j++) {
            o = cJSON_GetArrayItem(outs, j);

            container = sfn_task_string(
                cJSON_GetObjectItemCaseSensitive(o, "ContainerSettings"),
                "Container");
            vd = cJSON_GetObjectItemCaseSensitive(o, "VideoDescription");
            cs = cJSON_GetObjectItemCaseSensitive(vd, "CodecSettings");
            codec = sfn_task_string(cs, "Codec");
            ads = cJSON_GetObjectItemCaseSensitive(o, "AudioDescriptions");

            if (codec && strcmp(codec, "FRAME_CAPTURE") == 0) {
                if (sfn_media_parse_thumbs(call, set, g, o, vd)
                    != SFN_TASK_OK)
                {
                    return SFN_TASK_FAILED;
                }

                g->thumbs = 1;
                continue;
            }

            type = g->type;

            if (g->type == SFN_MEDIA_MP4 && container
                && strcmp(container, "MP4") != 0)
            {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": unsupported "
                                     "Container \"%s\"", g->name, container);
            }

            if (vd && codec && strcmp(codec, "H_264") != 0) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": unsupported video "
                                     "codec \"%s\"", g->name, codec);
            }

            if (set->noutputs == SFN_MEDIA_MAX_OUTS) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "too many outputs");
            }

            out = &set->outputs[set->noutputs];
            memset(out, 0, sizeof(sfn_media_output_t));
            out->type = type;
            out->group = (int) (g - set->groups);
            out->rend = -1;
            out->aenc = -1;

            nm = sfn_task_string(o, "NameModifier");

            if ((nm && strchr(nm, '/'))
                || sfn_media_fmt(out->name, sizeof(out->name), "%s%s",
                                 g->base, nm ? nm : "")
                   < 0
                || sfn_media_output_keys(g, out) != SFN_TASK_OK)
            {
                return sfn_media_bad_modifier(call, nm);
            }

            /* FFmpeg's HLS muxer reads '%' in its file names as patterns */

            if (type != SFN_MEDIA_MP4
                && (strchr(g->prefix, '%') || strchr(out->name, '%')))
            {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": HLS file names "
                                     "cannot hold '%%'", g->name);
            }

            if (vd == NULL && !cJSON_IsArray(ads)) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": an output has "
                                     "neither video nor audio", g->name);
            }

            if (vd) {
                if (sfn_media_parse_video(call, vd, &vspec) != SFN_TASK_OK) {
                    return SFN_TASK_FAILED;
                }

                out->rend = sfn_media_add_rend(call, set, &vspec);
                if (out->rend < 0) {
                    return SFN_TASK_FAILED;
                }
            }

            if (cJSON_IsArray(ads) && cJSON_GetArraySize(ads) > 0) {
                if (sfn_media_parse_audio(call, ads, &aspec) != SFN_TASK_OK) {
                    return SFN_TASK_FAILED;
                }

                out->aenc = sfn_media_add_aenc(call, set, &aspec);
                if (out->aenc < 0) {
                    return SFN_TASK_FAILED;
                }
            }

            set->noutputs++;
        }
    }

    if (set->seglen == 0) {
        set->seglen = 6;
    }

    return SFN_TASK_OK;
}


/*
 * Our own job spec, turned into MediaConvert Settings:
 *
 *   {"input": {"bucket", "key"},
 *    "outputs": [
 *      {"type": "mp4", "bucket", "key", "width", "height", "quality" | "crf",
 *       "maxBitrate", "audioBitrate"},
 *      {"type": "hls", "bucket", "prefix", "name", "segmentLength",
 *       "segmentType": "ts" | "fmp4", "renditions": [{"name", "width", ...}]},
 *      {"type": "thumbnails", "bucket", "prefix", "count", "interval",
 *       "width", "height", "quality"}]}
 */

static cJSON *
sfn_media_spec_video(const cJSON *r)
{
    cJSON        *vd, *cs, *h, *q;
    const cJSON  *item;

    vd = cJSON_CreateObject();

    item = cJSON_GetObjectItemCaseSensitive(r, "width");
    if (cJSON_IsNumber(item)) {
        cJSON_AddNumberToObject(vd, "Width", item->valuedouble);
    }

    item = cJSON_GetObjectItemCaseSensitive(r, "height");
    if (cJSON_IsNumber(item)) {
        cJSON_AddNumberToObject(vd, "Height", item->valuedouble);
    }

    cs = cJSON_AddObjectToObject(vd, "CodecSettings");
    cJSON_AddStringToObject(cs, "Codec", "H_264");
    h = cJSON_AddObjectToObject(cs, "H264Settings");

    item = cJSON_GetObjectItemCaseSensitive(r, "bitrate");

    if (cJSON_IsNumber(item)) {
        cJSON_AddStringToObject(h, "RateControlMode", "VBR");
        cJSON_AddNumberToObject(h, "Bitrate", item->valuedouble);

    } else {
        cJSON_AddStringToObject(h, "RateControlMode", "QVBR");
        q = cJSON_AddObjectToObject(h, "QvbrSettings");
        cJSON_AddNumberToObject(q, "QvbrQualityLevel",
                                sfn_media_number(r, "quality", 7));
    }

    item = cJSON_GetObjectItemCaseSensitive(r, "crf");
    if (cJSON_IsNumber(item)) {
        cJSON_AddNumberToObject(h, "Crf", item->valuedouble);
    }

    item = cJSON_GetObjectItemCaseSensitive(r, "maxBitrate");
    if (cJSON_IsNumber(item)) {
        cJSON_AddNumberToObject(h, "MaxBitrate", item->valuedouble);
    }

    item = cJSON_GetObjectItemCaseSensitive(r, "preset");
    if (cJSON_IsString(item)) {
        cJSON_AddStringToObject(h, "Preset", item->valuestring);
    }

    return vd;
}


static void
sfn_media_spec_audio(cJSON *o, const cJSON *r)
{
    cJSON  *ads, *ad, *cs, *aac;

    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "audio"))) {
        return;
    }

    ads = cJSON_AddArrayToObject(o, "AudioDescriptions");
    ad = cJSON_CreateObject();
    cJSON_AddItemToArray(ads, ad);
    cs = cJSON_AddObjectToObject(ad, "CodecSettings");
    cJSON_AddStringToObject(cs, "Codec", "AAC");
    aac = cJSON_AddObjectToObject(cs, "AacSettings");
    cJSON_AddNumberToObject(aac, "Bitrate",
                            sfn_media_number(r, "audioBitrate", 128000));
    cJSON_AddNumberToObject(aac, "SampleRate",
                            sfn_media_number(r, "sampleRate", 48000));
    cJSON_AddStringToObject(aac, "CodingMode",
                            sfn_media_number(r, "channels", 2) == 1
                            ? "CODING_MODE_1_0" : "CODING_MODE_2_0");
}


cJSON *
sfn_media_settings_from_spec(sfn_task_call_t *call, const cJSON *spec)
{
    int           i, j;
    char          dest[2048], *p;
    cJSON        *set, *ins, *in, *ogs, *og, *ogset, *gs, *outs, *o, *vd;
    cJSON        *cs, *fc;
    double        count, interval;
    const char   *type, *bucket, *key, *prefix, *name, *st;
    const cJSON  *input, *sp, *r, *rs;

    input = cJSON_GetObjectItemCaseSensitive(spec, "input");
    bucket = sfn_task_string(input, "bucket");
    key = sfn_task_string(input, "key");

    if (bucket == NULL || key == NULL) {
        sfn_task_fail(call, "States.TaskFailed",
                      "a job needs \"Settings\" or \"input\": "
                      "{\"bucket\", \"key\"}");
        return NULL;
    }

    set = cJSON_CreateObject();
    ins = cJSON_AddArrayToObject(set, "Inputs");
    in = cJSON_CreateObject();
    cJSON_AddItemToArray(ins, in);
    snprintf(dest, sizeof(dest), "s3://%s/%s", bucket, key);
    cJSON_AddStringToObject(in, "FileInput", dest);

    ogs = cJSON_AddArrayToObject(set, "OutputGroups");
    outs = NULL;

    for (i = 0; i < cJSON_GetArraySize(
                        cJSON_GetObjectItemCaseSensitive(spec, "outputs"));
         i++)
    {
        sp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(spec,
                                                                 "outputs"),
                                i);
        type = sfn_task_string(sp, "type");
        bucket = sfn_task_string(sp, "bucket");
        key = sfn_task_string(sp, "key");
        prefix = sfn_task_string(sp, "prefix");
        name = sfn_task_string(sp, "name");

        if (type == NULL || bucket == NULL) {
            sfn_task_fail(call, "States.TaskFailed",
                          "outputs[%d] needs \"type\" and \"bucket\"", i);
            cJSON_Delete(set);
            return NULL;
        }

        og = cJSON_CreateObject();
        cJSON_AddItemToArray(ogs, og);
        cJSON_AddStringToObject(og, "Name", type);
        ogset = cJSON_AddObjectToObject(og, "OutputGroupSettings");
        outs = cJSON_AddArrayToObject(og, "Outputs");

        if (strcmp(type, "mp4") == 0) {
            if (key == NULL) {
                sfn_task_fail(call, "States.TaskFailed",
                              "outputs[%d] needs \"key\"", i);
                cJSON_Delete(set);
                return NULL;
            }

            snprintf(dest, sizeof(dest), "s3://%s/%s", bucket, key);

            p = strrchr(dest, '.');
            if (p && strcmp(p, ".mp4") == 0) {
                *p = '\0';
            }

            cJSON_AddStringToObject(ogset, "Type", "FILE_GROUP_SETTINGS");
            gs = cJSON_AddObjectToObject(ogset, "FileGroupSettings");
            cJSON_AddStringToObject(gs, "Destination", dest);

            o = cJSON_CreateObject();
            cJSON_AddItemToArray(outs, o);
            cJSON_AddStringToObject(cJSON_AddObjectToObject(o,
                                        "ContainerSettings"),
                                    "Container", "MP4");
            cJSON_AddItemToObject(o, "VideoDescription",
                                  sfn_media_spec_video(sp));
            sfn_media_spec_audio(o, sp);

        } else if (strcmp(type, "hls") == 0) {
            snprintf(dest, sizeof(dest), "s3://%s/%s%s", bucket,
                     prefix ? prefix : "", name ? name : "");
            cJSON_AddStringToObject(ogset, "Type", "HLS_GROUP_SETTINGS");
            gs = cJSON_AddObjectToObject(ogset, "HlsGroupSettings");
            cJSON_AddStringToObject(gs, "Destination", dest);
            cJSON_AddNumberToObject(gs, "SegmentLength",
                                    sfn_media_number(sp, "segmentLength", 6));

            st = sfn_task_string(sp, "segmentType");
            cJSON_AddStringToObject(gs, "SegmentType",
                                    st && strcmp(st, "fmp4") == 0
                                    ? "FMP4" : "TS");

            rs = cJSON_GetObjectItemCaseSensitive(sp, "renditions");

            for (j = 0; j < cJSON_GetArraySize(rs); j++) {
                r = cJSON_GetArrayItem(rs, j);
                o = cJSON_CreateObject();
                cJSON_AddItemToArray(outs, o);
                name = sfn_task_string(r, "name");
                cJSON_AddStringToObject(o, "NameModifier", name ? name : "");
                cJSON_AddStringToObject(cJSON_AddObjectToObject(o,
                                            "ContainerSettings"),
                                        "Container", "M3U8");
                cJSON_AddItemToObject(o, "VideoDescription",
                                      sfn_media_spec_video(r));
                sfn_media_spec_audio(o, r);
            }

        } else if (strcmp(type, "thumbnails") == 0) {
            snprintf(dest, sizeof(dest), "s3://%s/%s%s", bucket,
                     prefix ? prefix : "", name ? name : "");
            cJSON_AddStringToObject(ogset, "Type", "FILE_GROUP_SETTINGS");
            gs = cJSON_AddObjectToObject(ogset, "FileGroupSettings");
            cJSON_AddStringToObject(gs, "Destination", dest);

            o = cJSON_CreateObject();
            cJSON_AddItemToArray(outs, o);
            cJSON_AddStringToObject(o, "NameModifier", "_thumb_%04d");
            cJSON_AddStringToObject(cJSON_AddObjectToObject(o,
                                        "ContainerSettings"),
                                    "Container", "RAW");
            vd = cJSON_AddObjectToObject(o, "VideoDescription");
            cJSON_AddNumberToObject(vd, "Width",
                                    sfn_media_number(sp, "width", 640));
            cJSON_AddNumberToObject(vd, "Height",
                                    sfn_media_number(sp, "height", 360));
            cs = cJSON_AddObjectToObject(vd, "CodecSettings");
            cJSON_AddStringToObject(cs, "Codec", "FRAME_CAPTURE");
            fc = cJSON_AddObjectToObject(cs, "FrameCaptureSettings");

            count = sfn_media_number(sp, "count", 5);
            interval = sfn_media_number(sp, "interval", 10);

            cJSON_AddNumberToObject(fc, "FramerateNumerator", 1000);
            cJSON_AddNumberToObject(fc, "FramerateDenominator",
                                    interval * 1000);
            cJSON_AddNumberToObject(fc, "MaxCaptures", count);
            cJSON_AddNumberToObject(fc, "Quality",
                                    sfn_media_number(sp, "quality", 80));
            cJSON_AddNumberToObject(fc, "Offset",
                                    sfn_media_number(sp, "offset", 0));

        } else {
            sfn_task_fail(call, "States.TaskFailed",
                          "outputs[%d]: unknown type \"%s\"", i, type);
            cJSON_Delete(set);
            return NULL;
        }
    }

    return set;
}


int
sfn_media_capture_key(const sfn_media_capture_t *c, int n, char *buf,
    size_t size)
{
    int          len, width;
    char         mod[160];
    const char  *p;

    /* "_thumb_%04d" numbers from 1; otherwise MediaConvert's ".0000000" */

    p = strchr(c->modifier, '%');

    if (p && sscanf(p, "%%0%dd%n", &width, &len) == 1
        && width > 0 && width < 10)
    {
        if (sfn_media_fmt(mod, sizeof(mod), "%.*s%0*d%s",
                          (int) (p - c->modifier), c->modifier, width, n + 1,
                          p + len)
            < 0)
        {
            return -1;
        }

        return sfn_media_fmt(buf, size, "%s%s%s.jpg", c->prefix, c->base,
                             mod);
    }

    return sfn_media_fmt(buf, size, "%s%s%s.%07d.jpg", c->prefix, c->base,
                         c->modifier, n);
}
