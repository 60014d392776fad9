
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn_media_settings_parse(): MediaConvert Settings to a job's plan, with
 * no FFmpeg and no files.  Rows are { name, settings, expected }: the
 * expected plan as sfn_t_plan() prints it, or "!" and a piece of the
 * cause.  JSON is written with ` for ".  Buckets "src", "out" and "output"
 * exist, under /b/.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sfn_media_settings.h"


typedef struct {
    const char           *name;
    const char           *settings;
    const char           *expected;
} sfn_t_settings_t;


#define IN  "`Inputs`:[{`FileInput`:`s3://src/up/clip.mov`}]"
#define IN_JSON  "\"Inputs\":[{\"FileInput\":\"s3://src/up/clip.mov\"}]"

#define MP4_GROUP(dest, outputs)                                              \
    "{`Name`:`M`,`OutputGroupSettings`:{`Type`:`FILE_GROUP_SETTINGS`,"       \
    "`FileGroupSettings`:{`Destination`:`" dest "`}},`Outputs`:[" outputs   \
    "]}"

#define HLS_GROUP(dest, extra, outputs)                                       \
    "{`Name`:`H`,`OutputGroupSettings`:{`Type`:`HLS_GROUP_SETTINGS`,"        \
    "`HlsGroupSettings`:{`Destination`:`" dest "`" extra "}},`Outputs`:["    \
    outputs "]}"

#define JOB(groups)  "{" IN ",`OutputGroups`:[" groups "]}"

#define AAC                                                                   \
    "`AudioDescriptions`:[{`CodecSettings`:{`Codec`:`AAC`,`AacSettings`:"    \
    "{`Bitrate`:128000,`CodingMode`:`CODING_MODE_2_0`,`SampleRate`:48000}}}]"

#define QVBR(w, h, q, max)                                                    \
    "`VideoDescription`:{`Width`:" w ",`Height`:" h ",`CodecSettings`:"      \
    "{`Codec`:`H_264`,`H264Settings`:{`RateControlMode`:`QVBR`,"             \
    "`QvbrSettings`:{`QvbrQualityLevel`:" q "},`MaxBitrate`:" max "}}}"

#define H264(w, h, settings)                                                  \
    "`VideoDescription`:{`Width`:" w ",`Height`:" h ",`CodecSettings`:"      \
    "{`Codec`:`H_264`,`H264Settings`:{" settings "}}}"

#define OUT(nm, container, rest)                                              \
    "{`NameModifier`:`" nm "`,`ContainerSettings`:{`Container`:`"            \
    container "`}," rest "}"

#define CAPTURE(nm, w, h, fc)                                                 \
    "{`NameModifier`:`" nm "`,`ContainerSettings`:{`Container`:`RAW`},"      \
    "`VideoDescription`:{`Width`:" w ",`Height`:" h ",`CodecSettings`:"      \
    "{`Codec`:`FRAME_CAPTURE`,`FrameCaptureSettings`:{" fc "}}}}"

#define SIMPLE(video)                                                         \
    JOB(MP4_GROUP("s3://out/mp4/", OUT("_v", "MP4", video)))

#define V720   "v 1280x720 crf24 br0 max3000000 buf6000000 gop0 high/-/veryfast"
#define V1080  "v 1920x1080 crf22 br0 max5000000 buf10000000 gop0 " \
               "high/-/veryfast"
#define A128   "a 128000 48000 2"


#define ABR_GROUP(abr, outputs)                                               \
    "{`Name`:`A`,`OutputGroupSettings`:{`Type`:`HLS_GROUP_SETTINGS`,"        \
    "`HlsGroupSettings`:{`Destination`:`s3://out/hls/`}},"                   \
    "`AutomatedEncodingSettings`:{`AbrSettings`:{" abr "}},`Outputs`:["     \
    outputs "]}"

#define ABR_OUT                                                               \
    OUT("_hls", "M3U8", "`VideoDescription`:{`CodecSettings`:{`Codec`:"      \
        "`H_264`,`H264Settings`:{`RateControlMode`:`QVBR`,`QvbrSettings`:"   \
        "{`QvbrQualityLevel`:7}}}}," AAC)

/*
 * The seed video workflow's TranscodeVideo Settings
 * (conf-examples/video-workflow.asl.json), its States.Format paths
 * resolved for job "J" and the upload "up/clip.mov".
 */

#define SEED                                                                  \
    "{`OutputGroups`:["                                                       \
    MP4_GROUP("s3://output/mp4/J/",                                           \
              OUT("_1080p", "MP4", QVBR("1920", "1080", "8", "5000000") ","   \
                  AAC) ","                                                    \
              OUT("_720p", "MP4", QVBR("1280", "720", "7", "3000000") ","     \
                  AAC)) ","                                                   \
    HLS_GROUP("s3://output/hls/J/",                                           \
              ",`SegmentLength`:6,`OutputSelection`:`MANIFESTS_AND_SEGMENTS`" \
              ",`ManifestDurationFormat`:`FLOATING_POINT`",                   \
              OUT("_hls_1080p", "M3U8", QVBR("1920", "1080", "8", "5000000")  \
                  "," AAC) ","                                                \
              OUT("_hls_720p", "M3U8", QVBR("1280", "720", "7", "3000000")    \
                  "," AAC)) ","                                               \
    "{`Name`:`Thumbnail_Output`,`OutputGroupSettings`:{`Type`:"               \
    "`FILE_GROUP_SETTINGS`,`FileGroupSettings`:{`Destination`:"               \
    "`s3://output/thumbnails/J/`}},`Outputs`:["                               \
    CAPTURE("_thumb_%04d", "640", "360", "`FramerateNumerator`:1,"            \
            "`FramerateDenominator`:4,`MaxCaptures`:5,`Quality`:80") "]}],"   \
    "`Inputs`:[{`FileInput`:`s3://src/up/clip.mov`,`AudioSelectors`:"         \
    "{`Audio Selector 1`:{`Tracks`:[1],`DefaultSelection`:`DEFAULT`}},"       \
    "`VideoSelector`:{`ColorSpace`:`FOLLOW`},`TimecodeSource`:`EMBEDDED`}]}"


static const sfn_t_settings_t  settings_cases[] = {

    /* the seed's ladder: two renditions shared by MP4 and HLS */

    { "seed video workflow", SEED,
      "src /b/src/up/clip.mov clip.mov clip seg 6"
      " | g M mp4 output:mp4/J/+clip"
      " | g H ts output:hls/J/+clip/6"
      " | g Thumbnail_Output capture output:thumbnails/J/+clip"
      " | " V1080 " | " V720 " | " A128
      " | o g0 mp4 clip_1080p v0 a0 | o g0 mp4 clip_720p v1 a0"
      " | o g1 ts clip_hls_1080p v0 a0 | o g1 ts clip_hls_720p v1 a0"
      " | c g2 640x360 q80 max5 every 4 from 0 b0"
      " thumbnails/J/clip_thumb_0001.jpg" },

    /* MP4 */

    { "MP4, destination with a base name",
      JOB(MP4_GROUP("s3://out/mp4/J/movie",
                    OUT("", "MP4", QVBR("1280", "720", "7", "3000000")))),
      "src /b/src/up/clip.mov clip.mov clip seg 6"
      " | g M mp4 out:mp4/J/+movie | " V720 " | o g0 mp4 movie v0 a-1" },

    { "MP4, bucket root, no modifier, audio only",
      JOB(MP4_GROUP("s3://out", "{`ContainerSettings`:{`Container`:`MP4`},"
                    AAC "}")),
      "src /b/src/up/clip.mov clip.mov clip seg 6"
      " | g M mp4 out:+clip | " A128 " | o g0 mp4 clip v-1 a0" },

    { "MP4, CBR, profile, level, quality tuning, GOP in seconds",
      SIMPLE(H264("640", "0", "`RateControlMode`:`CBR`,`Bitrate`:800000,"
                  "`CodecProfile`:`MAIN`,`CodecLevel`:`LEVEL_3_1`,"
                  "`QualityTuningLevel`:`SINGLE_PASS_HQ`,"
                  "`GopSize`:2,`GopSizeUnits`:`SECONDS`")),
      "src /b/src/up/clip.mov clip.mov clip seg 6"
      " | g M mp4 out:mp4/+clip"
      " | v 640x0 crf-1 br800000 max800000 buf1600000 gop2000 main/3.1/medium"
      " | o g0 mp4 clip_v v0 a-1" },

    { "MP4, VBR with our own Crf and Preset, baseline",
      SIMPLE(H264("0", "360", "`RateControlMode`:`VBR`,`Bitrate`:500000,"
                  "`MaxBitrate`:900000,`HrdBufferSize`:1000000,`Crf`:30,"
                  "`Preset`:`ultrafast`,`CodecProfile`:`BASELINE`,"
                  "`CodecLevel`:`LEVEL_4`")),
      "src /b/src/up/clip.mov clip.mov clip seg 6"
      " | g M mp4 out:mp4/+clip"
      " | v 0x360 crf30 br500000 max900000 buf1000000 gop0 baseline/4/"
      "ultrafast | o g0 mp4 clip_v v0 a-1" },

    { "QVBR levels clamp to 1..10, mono audio",
      JOB(MP4_GROUP("s3://out/m/",
                    OUT("_a", "MP4", QVBR("320", "240", "0", "0") ","
                        "`AudioDescriptions`:[{`CodecSettings`:{`Codec`:"
                        "`AAC`,`AacSettings`:{`Bitrate`:64000,`CodingMode`:"
                        "`CODING_MODE_1_0`,`SampleRate`:44100}}}]") ","
                    OUT("_b", "MP4", QVBR("320", "240", "99", "0")))),
      "src /b/src/up/clip.mov clip.mov clip seg 6 | g M mp4 out:m/+clip"
      " | v 320x240 crf36 br0 max0 buf0 gop0 high/-/veryfast"
      " | v 320x240 crf18 br0 max0 buf0 gop0 high/-/veryfast"
      " | a 64000 44100 1 | o g0 mp4 clip_a v0 a0 | o g0 mp4 clip_b v1 a-1" },

    /* HLS and CMAF */

    { "HLS TS, one cadence: the shortest segment",
      JOB(HLS_GROUP("s3://out/hls/J/index", ",`SegmentLength`:4",
                    OUT("_540", "M3U8", QVBR("960", "540", "7", "2000000")
                        "," AAC)) ","
          HLS_GROUP("s3://out/hls2/", ",`SegmentLength`:2,"
                    "`SegmentType`:`FMP4`",
                    OUT("_540", "M3U8", QVBR("960", "540", "7", "2000000")
                        "," AAC))),
      "src /b/src/up/clip.mov clip.mov clip seg 2"
      " | g H ts out:hls/J/+index/4 | g H fmp4 out:hls2/+clip/2"
      " | v 960x540 crf24 br0 max2000000 buf4000000 gop0 high/-/veryfast"
      " | " A128
      " | o g0 ts index_540 v0 a0 | o g1 fmp4 clip_540 v0 a0" },

    { "CMAF group, default segment length",
      JOB("{`Name`:`C`,`OutputGroupSettings`:{`Type`:`CMAF_GROUP_SETTINGS`,"
          "`CmafGroupSettings`:{`Destination`:`s3://out/cmaf/`}},"
          "`Outputs`:[" OUT("_1", "CMFC", QVBR("640", "360", "7", "0"))
          "]}"),
      "src /b/src/up/clip.mov clip.mov clip seg 6 | g C fmp4 out:cmaf/+clip/6"
      " | v 640x360 crf24 br0 max0 buf0 gop0 high/-/veryfast"
      " | o g0 fmp4 clip_1 v0 a-1" },

    /* frame capture */

    { "frame capture, MediaConvert numbering",
      JOB(MP4_GROUP("s3://out/th/",
                    CAPTURE("_f", "0", "0", "`FramerateNumerator`:2,"
                            "`FramerateDenominator`:5,`MaxCaptures`:3,"
                            "`Offset`:1.5"))),
      "src /b/src/up/clip.mov clip.mov clip seg 6 | g M capture out:th/+clip"
      " | c g0 0x0 q80 max3 every 2.5 from 1.5 b0 th/clip_f.0000000.jpg" },

    { "frame capture defaults",
      JOB(MP4_GROUP("s3://out/", CAPTURE("", "320", "180", ""))),
      "src /b/src/up/clip.mov clip.mov clip seg 6 | g M capture out:+clip"
      " | c g0 320x180 q80 max10 every 10 from 0 b0 clip.0000000.jpg" },

    /* the input */

    /* automated ABR and trick play: what MediaConvert refuses, we refuse */

    { "AbrSettings in a file group",
      JOB("{`Name`:`M`,`OutputGroupSettings`:{`Type`:`FILE_GROUP_SETTINGS`,"
          "`FileGroupSettings`:{`Destination`:`s3://out/m/`}},"
          "`AutomatedEncodingSettings`:{`AbrSettings`:{}},`Outputs`:["
          OUT("_a", "MP4", QVBR("0", "0", "7", "0")) "]}"),
      "!AbrSettings is for HLS and CMAF groups" },

    { "AbrSettings with a sized output",
      JOB(ABR_GROUP("", OUT("_a", "M3U8", QVBR("640", "0", "7", "0")))),
      "!has no Width or Height and uses QVBR" },

    { "AbrSettings with CBR",
      JOB(ABR_GROUP("", OUT("_a", "M3U8", H264("0", "0",
                        "`RateControlMode`:`CBR`,`Bitrate`:1000000")))),
      "!has no Width or Height and uses QVBR" },

    { "AbrSettings with two video outputs",
      JOB(ABR_GROUP("", OUT("_a", "M3U8", QVBR("0", "0", "7", "0")) ","
                        OUT("_b", "M3U8", QVBR("0", "0", "8", "0")))),
      "!only one output has video" },

    { "MinAbrBitrate above MaxAbrBitrate",
      JOB(ABR_GROUP("`MinAbrBitrate`:2000000,`MaxAbrBitrate`:1000000",
                    ABR_OUT)),
      "!MinAbrBitrate is above MaxAbrBitrate" },

    { "MaxRenditions out of range",
      JOB(ABR_GROUP("`MaxRenditions`:16", ABR_OUT)),
      "!AbrSettings.MaxRenditions must be a number from 1 to 15" },

    { "AbrSettings not an object",
      JOB("{`Name`:`A`,`OutputGroupSettings`:{`Type`:`HLS_GROUP_SETTINGS`,"
          "`HlsGroupSettings`:{`Destination`:`s3://out/hls/`}},"
          "`AutomatedEncodingSettings`:{`AbrSettings`:[1]},`Outputs`:["
          ABR_OUT "]}"),
      "!as an object" },

    { "ImageBasedTrickPlaySettings not an object",
      JOB(MP4_GROUP("s3://out/th/", CAPTURE("_t", "0", "0",
                    "`ImageBasedTrickPlaySettings`:7"))),
      "!ImageBasedTrickPlaySettings must be an object" },

    { "ThumbnailWidth too large",
      JOB(MP4_GROUP("s3://out/th/", CAPTURE("_t", "0", "0",
                    "`ImageBasedTrickPlaySettings`:{`ThumbnailWidth`:1e9}"))),
      "!ThumbnailWidth must be a number from 8 to 4096" },

    { "no Inputs", "{`OutputGroups`:[]}", "!Inputs[0].FileInput" },
    { "FileInput not s3", "{`Inputs`:[{`FileInput`:`/etc/passwd`}]}",
      "!is not s3://bucket/key" },
    { "FileInput a number", "{`Inputs`:[{`FileInput`:5}]}",
      "!Inputs[0].FileInput" },
    { "FileInput in an unknown bucket",
      "{`Inputs`:[{`FileInput`:`s3://nope/a.mp4`}]}",
      "!unknown bucket \"nope\"" },
    { "FileInput escapes its bucket",
      "{`Inputs`:[{`FileInput`:`s3://src/../etc/passwd`}]}",
      "!invalid key \"../etc/passwd\"" },
    { "FileInput on a reserved name",
      "{`Inputs`:[{`FileInput`:`s3://src/.sfn-published/J.json`}]}",
      "!invalid key" },

    /* groups */

    { "no OutputGroups", "{" IN "}", "!OutputGroups is empty" },
    { "OutputGroups empty", JOB(""), "!OutputGroups is empty" },
    { "OutputGroups an object", "{" IN ",`OutputGroups`:{}}",
      "!OutputGroups is empty" },
    { "a group without Type", JOB("{`Name`:`x`}"),
      "!output group \"x\" has no Type" },
    { "an unknown group Type",
      JOB("{`Name`:`x`,`OutputGroupSettings`:{`Type`:`DASH_ISO_GROUP_"
          "SETTINGS`}}"),
      "!unsupported Type \"DASH_ISO_GROUP_SETTINGS\"" },
    { "no Destination",
      JOB("{`Name`:`x`,`OutputGroupSettings`:{`Type`:`FILE_GROUP_SETTINGS`}"
          "}"),
      "!Destination \"\" is not s3://bucket/prefix/" },
    { "Destination in an unknown bucket",
      JOB(MP4_GROUP("s3://elsewhere/x/", OUT("", "MP4", AAC))),
      "!unknown bucket \"elsewhere\"" },
    { "Destination escapes its bucket",
      JOB(MP4_GROUP("s3://out/../../etc/", OUT("", "MP4", AAC))),
      "!invalid key" },
    { "Destination on the publish marker",
      JOB(MP4_GROUP("s3://out/.sfn-published/J", OUT("", "MP4", AAC))),
      "!invalid key" },
    { "SegmentLength 0",
      JOB(HLS_GROUP("s3://out/h/", ",`SegmentLength`:0",
                    OUT("", "M3U8", AAC))),
      "!HlsGroupSettings.SegmentLength must be a number from 1 to 60" },
    { "SegmentLength 1000",
      JOB(HLS_GROUP("s3://out/h/", ",`SegmentLength`:1000",
                    OUT("", "M3U8", AAC))),
      "!HlsGroupSettings.SegmentLength must be a number from 1 to 60" },

    /* outputs */

    { "a container MP4 groups do not write",
      JOB(MP4_GROUP("s3://out/", OUT("", "MOV", AAC))),
      "!unsupported Container \"MOV\"" },
    { "an unknown video codec",
      SIMPLE("`VideoDescription`:{`CodecSettings`:{`Codec`:`H_265`}}"),
      "!unsupported video codec \"H_265\"" },
    { "an unknown audio codec",
      JOB(MP4_GROUP("s3://out/", OUT("", "MP4",
          "`AudioDescriptions`:[{`CodecSettings`:{`Codec`:`MP3`}}]"))),
      "!unsupported audio codec \"MP3\"" },
    { "neither video nor audio", SIMPLE("`x`:1"),
      "!neither video nor audio" },
    { "NameModifier with a slash",
      JOB(MP4_GROUP("s3://out/", OUT("/../x", "MP4", AAC))),
      "!invalid NameModifier" },
    { "CBR without Bitrate",
      SIMPLE(H264("0", "0", "`RateControlMode`:`CBR`")),
      "!CBR needs H264Settings.Bitrate" },
    { "VBR without Bitrate",
      SIMPLE(H264("0", "0", "`RateControlMode`:`VBR`")),
      "!VBR needs H264Settings.Bitrate" },
    { "an unknown RateControlMode",
      SIMPLE(H264("0", "0", "`RateControlMode`:`CRF`")),
      "!unsupported RateControlMode \"CRF\"" },
    { "a Preset that is not an x264 word",
      SIMPLE(H264("0", "0", "`Preset`:`fast;rm -rf`")),
      "!invalid x264 preset" },
    { "a negative Width", SIMPLE(QVBR("-2", "720", "7", "0")),
      "!VideoDescription.Width must be a number from 0 to 8192" },
    { "a huge Height", SIMPLE(QVBR("1280", "100000", "7", "0")),
      "!VideoDescription.Height must be a number from 0 to 8192" },
    { "AAC bitrate too low",
      JOB(MP4_GROUP("s3://out/", OUT("", "MP4",
          "`AudioDescriptions`:[{`CodecSettings`:{`Codec`:`AAC`,"
          "`AacSettings`:{`Bitrate`:10}}}]"))),
      "!AacSettings.Bitrate must be a number from 8000 to 640000" },
    { "MaxCaptures 0",
      JOB(MP4_GROUP("s3://out/", CAPTURE("", "320", "180",
                                         "`MaxCaptures`:0"))),
      "!FrameCaptureSettings.MaxCaptures must be a number from 1 to 10000" },
    { "a capture of 10000x10000",
      JOB(MP4_GROUP("s3://out/", CAPTURE("", "10000", "10000", ""))),
      "!VideoDescription.Width must be a number from 0 to 8192" },

    /* hostile: wrong types, sizes no int holds, NaN, names a key refuses */

    { "Width true", SIMPLE(QVBR("true", "720", "7", "0")),
      "!VideoDescription.Width must be a number" },
    { "Width a word", SIMPLE(QVBR("`wide`", "720", "7", "0")),
      "!VideoDescription.Width must be a number" },
    { "Width a numeric string", SIMPLE(QVBR("`640`", "` 360`", "7", "0")),
      "src /b/src/up/clip.mov clip.mov clip seg 6 | g M mp4 out:mp4/+clip"
      " | v 640x360 crf24 br0 max0 buf0 gop0 high/-/veryfast"
      " | o g0 mp4 clip_v v0 a-1" },
    { "Width 1e300", SIMPLE(QVBR("1e300", "720", "7", "0")),
      "!VideoDescription.Width must be a number" },
    { "MaxBitrate an object", SIMPLE(QVBR("0", "0", "7", "{}")),
      "!H264Settings.MaxBitrate must be a number" },
    { "MaxBitrate negative", SIMPLE(QVBR("0", "0", "7", "-1")),
      "!H264Settings.MaxBitrate must be a number from 0 to 1152000000" },
    { "MaxBitrate 1e19", SIMPLE(QVBR("0", "0", "7", "1e19")),
      "!H264Settings.MaxBitrate must be a number from 0 to 1152000000" },
    { "QvbrQualityLevel NaN", SIMPLE(QVBR("0", "0", "`nan`", "0")),
      "!QvbrSettings.QvbrQualityLevel must be a number" },
    { "QvbrQualityLevel 1e308 clamps",
      SIMPLE(QVBR("0", "0", "1e308", "0")),
      "src /b/src/up/clip.mov clip.mov clip seg 6 | g M mp4 out:mp4/+clip"
      " | v 0x0 crf18 br0 max0 buf0 gop0 high/-/veryfast"
      " | o g0 mp4 clip_v v0 a-1" },
    { "Crf 99", SIMPLE(H264("0", "0", "`Crf`:99")),
      "!H264Settings.Crf must be a number from 0 to 51" },
    { "GopSize -1",
      SIMPLE(H264("0", "0", "`GopSize`:-1,`GopSizeUnits`:`SECONDS`")),
      "!H264Settings.GopSize must be a number from 0 to 3600" },
    { "HrdBufferSize a string",
      SIMPLE(H264("0", "0", "`HrdBufferSize`:`lots`")),
      "!H264Settings.HrdBufferSize must be a number" },
    { "a Preset longer than any",
      SIMPLE(H264("0", "0", "`Preset`:`veryveryveryveryslow`")),
      "!invalid x264 preset \"veryveryveryveryslow\"" },
    { "SampleRate 1e12",
      JOB(MP4_GROUP("s3://out/", OUT("", "MP4",
          "`AudioDescriptions`:[{`CodecSettings`:{`Codec`:`AAC`,"
          "`AacSettings`:{`SampleRate`:1e12}}}]"))),
      "!AacSettings.SampleRate must be a number from 8000 to 96000" },
    { "FramerateDenominator negative",
      JOB(MP4_GROUP("s3://out/", CAPTURE("", "0", "0",
                    "`FramerateDenominator`:-4"))),
      "!FrameCaptureSettings.FramerateDenominator must be a number" },
    { "Offset a list",
      JOB(MP4_GROUP("s3://out/", CAPTURE("", "0", "0", "`Offset`:[1]"))),
      "!FrameCaptureSettings.Offset must be a number" },
    { "Outputs empty", JOB(MP4_GROUP("s3://out/", "")),
      "!output group \"M\": Outputs is empty" },
    { "Outputs a string",
      JOB("{`Name`:`M`,`OutputGroupSettings`:{`Type`:`FILE_GROUP_SETTINGS`,"
          "`FileGroupSettings`:{`Destination`:`s3://out/`}},`Outputs`:`x`}"),
      "!Outputs is empty" },
    { "NameModifier with a newline",
      JOB(MP4_GROUP("s3://out/", OUT("_a\nb", "MP4", AAC))),
      "!invalid NameModifier \"_a\\x0ab\"" },
    { "NameModifier making a 300-byte name",
      JOB(MP4_GROUP("s3://out/", OUT("_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "MP4", AAC))),
      "!invalid NameModifier" },
    { "an HLS segment name over 255 bytes (its playlist's is not)",
      JOB(HLS_GROUP("s3://out/h/", "", OUT("_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxx", "M3U8", AAC))),
      "!invalid NameModifier" },
    { "'%' in an HLS name: the muxer would read a pattern",
      JOB(HLS_GROUP("s3://out/h/", "", OUT("_%05d", "M3U8", AAC))),
      "!output group \"H\": HLS file names cannot hold '%'" },
    { "'%' in an HLS prefix",
      JOB(HLS_GROUP("s3://out/h%v/", "", OUT("_1", "M3U8", AAC))),
      "!HLS file names cannot hold '%'" },
    { "'%', unicode and spaces in an MP4 name are plain bytes",
      JOB(MP4_GROUP("s3://out/caf\u00e9 %41/", OUT("_%d", "MP4", AAC))),
      "src /b/src/up/clip.mov clip.mov clip seg 6"
      " | g M mp4 out:caf\xc3\xa9 %41/+clip | " A128
      " | o g0 mp4 clip_%d v-1 a0" },
    { "a Destination base onto a reserved name",
      JOB(MP4_GROUP("s3://out/x/.sfn-tmp-1", OUT("", "MP4", AAC))),
      "!invalid key" },
    { "a capture NameModifier with a control byte",
      JOB(MP4_GROUP("s3://out/", CAPTURE("\\u001b[2J", "0", "0", ""))),
      "!invalid NameModifier \"\\x1b[2J\"" },
    { "an unknown bucket named in bytes a log refuses",
      JOB(MP4_GROUP("s3://\\u0007bell/", OUT("", "MP4", AAC))),
      "!unknown bucket \"\\x07bell\"" },

    { NULL, NULL, NULL }
};


static const char *
sfn_t_bucket_path(void *data, const char *bucket)
{
    if (strcmp(bucket, "src") == 0) {
        return "/b/src";
    }

    if (strcmp(bucket, "out") == 0) {
        return "/b/out";
    }

    if (strcmp(bucket, "output") == 0) {
        return "/b/output";
    }

    return NULL;
}


static char *
sfn_t_json(const char *text)
{
    char  *s, *p;

    s = strdup(text);
    assert_non_null(s);

    for (p = s; *p; p++) {
        if (*p == '`') {
            *p = '"';
        }
    }

    return s;
}


static void
sfn_t_add(char *buf, size_t size, const char *fmt, ...)
{
    size_t   len;
    va_list  args;

    len = strlen(buf);

    if (len) {
        snprintf(buf + len, size - len, " | ");
        len = strlen(buf);
    }

    va_start(args, fmt);
    vsnprintf(buf + len, size - len, fmt, args);
    va_end(args);
}


/* the plan in one line, in the order the job lays it out */

static void
sfn_t_plan(const sfn_media_settings_t *s, char *buf, size_t size)
{
    int                         i;
    char                        key[2048];
    const sfn_media_group_t    *g;
    const sfn_media_vspec_t    *v;
    const sfn_media_aspec_t    *a;
    const sfn_media_output_t   *o;
    const sfn_media_capture_t  *c;

    static const char  *types[] = { "mp4", "ts", "fmp4" };

    buf[0] = '\0';

    sfn_t_add(buf, size, "src %s %s %s seg %g", s->src_path, s->src_name,
              s->src_base, s->seglen);

    for (i = 0; i < s->ngroups; i++) {
        g = &s->groups[i];

        if (g->type == SFN_MEDIA_MP4) {
            sfn_t_add(buf, size, "g %s %s %s:%s+%s", g->name,
                      g->thumbs ? "capture" : "mp4", g->bucket_name,
                      g->prefix, g->base);

        } else {
            sfn_t_add(buf, size, "g %s %s %s:%s+%s/%g", g->name,
                      types[g->type], g->bucket_name, g->prefix, g->base,
                      g->seglen);
        }

        assert_string_equal(s->buckets[g->bucket].name, g->bucket_name);
    }

    for (i = 0; i < s->nvspecs; i++) {
        v = &s->vspecs[i];
        sfn_t_add(buf, size, "v %dx%d crf%d br%lld max%lld buf%lld gop%d "
                  "%s/%s/%s", v->width, v->height, v->crf,
                  (long long) v->bitrate, (long long) v->maxrate,
                  (long long) v->bufsize, v->gop, v->profile,
                  v->level[0] ? v->level : "-", v->preset);
    }

    for (i = 0; i < s->naspecs; i++) {
        a = &s->aspecs[i];
        sfn_t_add(buf, size, "a %d %d %d", a->bitrate, a->sample_rate,
                  a->channels);
    }

    for (i = 0; i < s->noutputs; i++) {
        o = &s->outputs[i];
        sfn_t_add(buf, size, "o g%d %s %s v%d a%d", o->group,
                  types[o->type], o->name, o->rend, o->aenc);
    }

    for (i = 0; i < s->ncaptures; i++) {
        c = &s->captures[i];
        assert_int_not_equal(sfn_media_capture_key(c, 0, key, sizeof(key)),
                             -1);
        sfn_t_add(buf, size, "c g%d %dx%d q%d max%d every %g from %g b%d %s",
                  c->group, c->width, c->height, c->quality, c->max,
                  c->interval, c->offset, c->bucket, key);
    }
}


static void
test_settings_table(void **state)
{
    int                        rc, failed;
    char                      *text, plan[8192];
    cJSON                     *json;
    sfn_task_env_t             env;
    sfn_task_call_t            call;
    sfn_media_settings_t      *s;
    const sfn_t_settings_t    *c;

    memset(&env, 0, sizeof(sfn_task_env_t));
    env.bucket_path = sfn_t_bucket_path;

    s = malloc(sizeof(sfn_media_settings_t));
    assert_non_null(s);

    failed = 0;

    for (c = settings_cases; c->name; c++) {
        text = sfn_t_json(c->settings);
        json = cJSON_Parse(text);

        if (json == NULL) {
            print_error("%s: settings are not JSON: %s\n", c->name, text);
            free(text);
            failed++;
            continue;
        }

        memset(&call, 0, sizeof(sfn_task_call_t));
        call.resource = "sfn:media:transcode";
        call.input = json;
        call.env = &env;

        memset(s, 0, sizeof(sfn_media_settings_t));

        rc = sfn_media_settings_parse(&call, json, s);

        if (c->expected[0] == '!') {
            if (rc != SFN_TASK_FAILED
                || strcmp(call.error, "States.TaskFailed") != 0
                || strstr(call.cause, c->expected + 1) == NULL)
            {
                print_error("%s: expected a failure with \"%s\", got %s "
                            "\"%s\"\n", c->name, c->expected + 1,
                            rc == SFN_TASK_OK ? "success" : call.error,
                            call.cause);
                failed++;
            }

        } else if (rc != SFN_TASK_OK) {
            print_error("%s: failed: %s\n", c->name, call.cause);
            failed++;

        } else {
            sfn_t_plan(s, plan, sizeof(plan));

            if (strcmp(plan, c->expected) != 0) {
                print_error("%s:\n  got      %s\n  expected %s\n", c->name,
                            plan, c->expected);
                failed++;
            }
        }

        cJSON_Delete(json);
        free(text);
    }

    free(s);

    assert_int_equal(failed, 0);
}


/* settings too big to write as rows: long names, too many of a thing */

static const char *
sfn_t_parse_fails(const char *json)
{
    int                     rc;
    cJSON                  *settings;
    sfn_task_env_t          env;
    sfn_media_settings_t   *s;

    static sfn_task_call_t  call;

    memset(&env, 0, sizeof(sfn_task_env_t));
    env.bucket_path = sfn_t_bucket_path;

    memset(&call, 0, sizeof(sfn_task_call_t));
    call.env = &env;

    settings = cJSON_Parse(json);
    assert_non_null(settings);

    s = calloc(1, sizeof(sfn_media_settings_t));
    assert_non_null(s);

    rc = sfn_media_settings_parse(&call, settings, s);

    free(s);
    cJSON_Delete(settings);

    return rc == SFN_TASK_FAILED ? call.cause : NULL;
}


static void
test_settings_limits(void **state)
{
    int          i, g, o;
    char        *json, *p, name[1200];
    size_t       size;
    const char  *cause;

    size = 1 << 20;
    json = malloc(size);
    assert_non_null(json);

    /* a 1,100-byte key: cut, it would be another key */

    memset(name, 'k', 1100);
    name[1100] = '\0';

    snprintf(json, size, "{\"Inputs\":[{\"FileInput\":\"s3://src/%s\"}]}",
             name);
    cause = sfn_t_parse_fails(json);
    assert_non_null(cause);
    assert_non_null(strstr(cause, "is not s3://bucket/key"));

    snprintf(json, size, "{" IN_JSON ",\"OutputGroups\":[{\"Name\":\"G\","
             "\"OutputGroupSettings\":{\"Type\":\"FILE_GROUP_SETTINGS\","
             "\"FileGroupSettings\":{\"Destination\":\"s3://out/%s/\"}},"
             "\"Outputs\":[{\"AudioDescriptions\":[{}]}]}]}", name);
    cause = sfn_t_parse_fails(json);
    assert_non_null(cause);
    assert_non_null(strstr(cause, "is not s3://bucket/prefix/"));

    /* 33 outputs, 17 renditions, 17 groups, 9 captures */

    for (i = 0; i < 4; i++) {
        p = json + snprintf(json, size, "{" IN_JSON ",\"OutputGroups\":[");

        for (g = 0; g < (i == 2 ? 17 : i == 3 ? 9 : 1); g++) {
            p += snprintf(p, json + size - p, "%s{\"Name\":\"G%d\","
                          "\"OutputGroupSettings\":{\"Type\":"
                          "\"FILE_GROUP_SETTINGS\",\"FileGroupSettings\":"
                          "{\"Destination\":\"s3://out/g%d/\"}},"
                          "\"Outputs\":[", g ? "," : "", g, g);

            for (o = 0; o < (i == 0 ? 33 : i == 1 ? 17 : 1); o++) {
                if (i == 3) {
                    p += snprintf(p, json + size - p, "%s{\"VideoDescription"
                                  "\":{\"CodecSettings\":{\"Codec\":"
                                  "\"FRAME_CAPTURE\"}}}", o ? "," : "");
                    continue;
                }

                p += snprintf(p, json + size - p, "%s{\"NameModifier\":"
                              "\"_%d\",\"VideoDescription\":{\"Height\":"
                              "%d}}", o ? "," : "", o,
                              i == 1 ? 100 + 2 * o : 100);
            }

            p += snprintf(p, json + size - p, "]}");
        }

        snprintf(p, json + size - p, "]}");

        cause = sfn_t_parse_fails(json);
        assert_non_null(cause);
        assert_non_null(strstr(cause, i == 0 ? "too many outputs"
                                      : i == 1 ? "too many distinct video"
                                      : i == 2 ? "too many output groups"
                                      : "too many frame captures"));
    }

    free(json);
}


/*
 * sfn_media_settings_fit(): the plan fitted to sources of several sizes.
 * Rows are { name, settings, source "WxH" and duration, expected plan },
 * the plan with its key frame interval.
 */

typedef struct {
    const char           *name;
    const char           *settings;
    int                   width;
    int                   height;
    double                duration;
    const char           *expected;
} sfn_t_fit_t;


#define SEED_HEAD   "src /b/src/up/clip.mov clip.mov clip seg 6"             \
    " | g M mp4 output:mp4/J/+clip | g H ts output:hls/J/+clip/6"           \
    " | g Thumbnail_Output capture output:thumbnails/J/+clip"

#define FIT_HEAD    "src /b/src/up/clip.mov clip.mov clip seg 6"


static const sfn_t_fit_t  fit_cases[] = {

    { "seed ladder, 1080p source: as asked", SEED, 1920, 1080, 60,
      SEED_HEAD " | " V1080 " | " V720 " | " A128
      " | o g0 mp4 clip_1080p v0 a0 | o g0 mp4 clip_720p v1 a0"
      " | o g1 ts clip_hls_1080p v0 a0 | o g1 ts clip_hls_720p v1 a0"
      " | c g2 640x360 q80 max5 every 4 from 0 b0"
      " thumbnails/J/clip_thumb_0001.jpg | key 2" },

    { "seed ladder, 720p source: 1080p dropped", SEED, 1280, 720, 60,
      SEED_HEAD " | " V720 " | " A128
      " | o g0 mp4 clip_720p v0 a0 | o g1 ts clip_hls_720p v0 a0"
      " | c g2 640x360 q80 max5 every 4 from 0 b0"
      " thumbnails/J/clip_thumb_0001.jpg | key 2" },

    { "seed ladder, 640x360 source: one rung, not upscaled",
      SEED, 640, 360, 60,
      SEED_HEAD
      " | v 640x360 crf24 br0 max3000000 buf6000000 gop0 high/-/veryfast"
      " | " A128 " | o g0 mp4 clip_720p v0 a0 | o g1 ts clip_hls_720p v0 a0"
      " | c g2 640x360 q80 max5 every 4 from 0 b0"
      " thumbnails/J/clip_thumb_0001.jpg | key 2" },

    { "seed ladder, odd 321x181 source", SEED, 321, 181, 3,
      SEED_HEAD
      " | v 320x180 crf24 br0 max3000000 buf6000000 gop0 high/-/veryfast"
      " | " A128 " | o g0 mp4 clip_720p v0 a0 | o g1 ts clip_hls_720p v0 a0"
      " | c g2 320x180 q80 max5 every 4 from 0 b0"
      " thumbnails/J/clip_thumb_0001.jpg | key 2" },

    { "seed ladder, portrait 1080x1920: boxes fit, kept", SEED, 1080, 1920,
      60,
      SEED_HEAD " | " V1080 " | " V720 " | " A128
      " | o g0 mp4 clip_1080p v0 a0 | o g0 mp4 clip_720p v1 a0"
      " | o g1 ts clip_hls_1080p v0 a0 | o g1 ts clip_hls_720p v1 a0"
      " | c g2 640x360 q80 max5 every 4 from 0 b0"
      " thumbnails/J/clip_thumb_0001.jpg | key 2" },

    { "size by one side follows the source, odd source",
      SIMPLE(QVBR("0", "180", "7", "0")), 321, 181, 3,
      FIT_HEAD " | g M mp4 out:mp4/+clip"
      " | v 318x180 crf24 br0 max0 buf0 gop0 high/-/veryfast"
      " | o g0 mp4 clip_v v0 a-1 | key 2" },

    { "automated ABR, 1080p source: four rungs over 600 kb/s",
      JOB(ABR_GROUP("`MaxRenditions`:6,`MaxAbrBitrate`:5000000,"
                    "`MinAbrBitrate`:600000", ABR_OUT)), 1920, 1080, 60,
      FIT_HEAD " | g A ts out:hls/+clip/6"
      " | v 1920x1080 crf24 br0 max5000000 buf10000000 gop0 high/-/veryfast"
      " | v 1280x720 crf24 br0 max2721000 buf5442000 gop0 high/-/veryfast"
      " | v 960x540 crf24 br0 max1767000 buf3534000 gop0 high/-/veryfast"
      " | v 640x360 crf24 br0 max962000 buf1924000 gop0 high/-/veryfast"
      " | " A128 " | o g0 ts clip_hls_1080p v0 a0 | o g0 ts clip_hls_720p v1 a0"
      " | o g0 ts clip_hls_540p v2 a0 | o g0 ts clip_hls_360p v3 a0"
      " | key 2" },

    { "automated ABR, MaxRenditions 3: top, bottom, between",
      JOB(ABR_GROUP("`MaxRenditions`:3,`MaxAbrBitrate`:5000000",
                    ABR_OUT)), 1920, 1080, 60,
      FIT_HEAD " | g A ts out:hls/+clip/6"
      " | v 1920x1080 crf24 br0 max5000000 buf10000000 gop0 high/-/veryfast"
      " | v 960x540 crf24 br0 max1767000 buf3534000 gop0 high/-/veryfast"
      " | v 640x360 crf24 br0 max962000 buf1924000 gop0 high/-/veryfast"
      " | " A128 " | o g0 ts clip_hls_1080p v0 a0 | o g0 ts clip_hls_540p v1 a0"
      " | o g0 ts clip_hls_360p v2 a0 | key 2" },

    { "automated ABR, 640x360 source: no rung above it",
      JOB(ABR_GROUP("`MaxAbrBitrate`:5000000", ABR_OUT)), 640, 360, 10,
      FIT_HEAD " | g A ts out:hls/+clip/6"
      " | v 640x360 crf24 br0 max962000 buf1924000 gop0 high/-/veryfast"
      " | " A128 " | o g0 ts clip_hls_360p v0 a0 | key 2" },

    { "automated ABR, portrait 720x1280",
      JOB(ABR_GROUP("`MaxAbrBitrate`:5000000", ABR_OUT)), 720, 1280, 10,
      FIT_HEAD " | g A ts out:hls/+clip/6"
      " | v 720x1280 crf24 br0 max2721000 buf5442000 gop0 high/-/veryfast"
      " | v 540x960 crf24 br0 max1767000 buf3534000 gop0 high/-/veryfast"
      " | v 360x640 crf24 br0 max962000 buf1924000 gop0 high/-/veryfast"
      " | " A128 " | o g0 ts clip_hls_720p v0 a0 | o g0 ts clip_hls_540p v1 a0"
      " | o g0 ts clip_hls_360p v2 a0 | key 2" },

    { "automated ABR, a huge declared size stops at 2160",
      JOB(ABR_GROUP("`MaxRenditions`:2", ABR_OUT)), 16000, 16000, 1,
      FIT_HEAD " | g A ts out:hls/+clip/6"
      " | v 2160x2160 crf24 br0 max8000000 buf16000000 gop0 high/-/veryfast"
      " | v 360x360 crf24 br0 max1000000 buf2000000 gop0 high/-/veryfast"
      " | " A128 " | o g0 ts clip_hls_2160p v0 a0 | o g0 ts clip_hls_360p v1 a0"
      " | key 2" },

    { "automated ABR shares the encode of a rung of its size",
      JOB(MP4_GROUP("s3://out/mp4/",
                    OUT("_720p", "MP4", QVBR("1280", "720", "7", "3000000")
                        "," AAC)) ","
          ABR_GROUP("`MaxRenditions`:2,`MaxAbrBitrate`:5000000", ABR_OUT)),
      1280, 720, 60,
      FIT_HEAD " | g M mp4 out:mp4/+clip | g A ts out:hls/+clip/6"
      " | " V720
      " | v 640x360 crf24 br0 max962000 buf1924000 gop0 high/-/veryfast"
      " | " A128 " | o g0 mp4 clip_720p v0 a0"
      " | o g1 ts clip_hls_720p v0 a0 | o g1 ts clip_hls_360p v1 a0"
      " | key 2" },

    { "GOP in seconds sets the key frame interval",
      SIMPLE(H264("640", "360", "`RateControlMode`:`QVBR`,`GopSize`:4,"
                  "`GopSizeUnits`:`SECONDS`")), 1280, 720, 60,
      FIT_HEAD " | g M mp4 out:mp4/+clip"
      " | v 640x360 crf24 br0 max0 buf0 gop4000 high/-/veryfast"
      " | o g0 mp4 clip_v v0 a-1 | key 4" },

    { "captures spread over the duration, with a sprite sheet",
      JOB(MP4_GROUP("s3://out/th/",
                    CAPTURE("_t", "640", "360", "`MaxCaptures`:20,"
                            "`ImageBasedTrickPlaySettings`:{"
                            "`ThumbnailWidth`:160,`TileWidth`:5}"))),
      1920, 1080, 60,
      FIT_HEAD " | g M capture out:th/+clip"
      " | c g0 640x360 q80 max20 every 3 from 1.5 b0 th/clip_t.0000000.jpg"
      " | sprite 160x90 5x4 | key 2" },

    { "captures and tiles never upscaled, the sheet under 4096 px, no "
      "duration: from the offset",
      JOB(MP4_GROUP("s3://out/th/",
                    CAPTURE("_t", "640", "360", "`MaxCaptures`:10000,"
                            "`ImageBasedTrickPlaySettings`:{"
                            "`ThumbnailWidth`:4096,`TileWidth`:100}"))),
      320, 180, 0,
      FIT_HEAD " | g M capture out:th/+clip"
      " | c g0 320x180 q80 max10000 every 10 from 0 b0 th/clip_t.0000000.jpg"
      " | sprite 320x180 12x22 | key 2" },

    { "no picture: nothing to fit", SEED, 0, 0, 0,
      SEED_HEAD " | " V1080 " | " V720 " | " A128
      " | o g0 mp4 clip_1080p v0 a0 | o g0 mp4 clip_720p v1 a0"
      " | o g1 ts clip_hls_1080p v0 a0 | o g1 ts clip_hls_720p v1 a0"
      " | c g2 640x360 q80 max5 every 4 from 0 b0"
      " thumbnails/J/clip_thumb_0001.jpg | key 2" },

    { NULL, NULL, 0, 0, 0, NULL }
};


static void
test_settings_fit(void **state)
{
    int                        i, failed;
    char                      *text, plan[8192];
    cJSON                     *json;
    sfn_task_env_t             env;
    sfn_task_call_t            call;
    sfn_media_source_t         src;
    sfn_media_settings_t      *s;
    const sfn_t_fit_t         *c;
    const sfn_media_capture_t *cap;

    memset(&env, 0, sizeof(sfn_task_env_t));
    env.bucket_path = sfn_t_bucket_path;

    s = malloc(sizeof(sfn_media_settings_t));
    assert_non_null(s);

    failed = 0;

    for (c = fit_cases; c->name; c++) {
        text = sfn_t_json(c->settings);
        json = cJSON_Parse(text);
        assert_non_null(json);

        memset(&call, 0, sizeof(sfn_task_call_t));
        call.resource = "sfn:media:transcode";
        call.input = json;
        call.env = &env;

        memset(s, 0, sizeof(sfn_media_settings_t));

        memset(&src, 0, sizeof(sfn_media_source_t));
        src.width = c->width;
        src.height = c->height;
        src.fps = 30;
        src.duration = c->duration;

        if (sfn_media_settings_parse(&call, json, s) != SFN_TASK_OK
            || sfn_media_settings_fit(&call, s, &src) != SFN_TASK_OK)
        {
            print_error("%s: failed: %s\n", c->name, call.cause);
            failed++;

        } else {
            sfn_t_plan(s, plan, sizeof(plan));

            for (i = 0; i < s->ncaptures; i++) {
                cap = &s->captures[i];

                if (cap->sprite) {
                    sfn_t_add(plan, sizeof(plan), "sprite %dx%d %dx%d",
                              cap->tile_width, cap->tile_height,
                              cap->columns, cap->rows);
                }
            }

            sfn_t_add(plan, sizeof(plan), "key %g", s->keyint);

            if (strcmp(plan, c->expected) != 0) {
                print_error("%s:\n  got      %s\n  expected %s\n", c->name,
                            plan, c->expected);
                failed++;
            }
        }

        cJSON_Delete(json);
        free(text);
    }

    free(s);

    assert_int_equal(failed, 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_settings_table),
        cmocka_unit_test(test_settings_limits),
        cmocka_unit_test(test_settings_fit),
    };

    return cmocka_run_group_tests_name("sfn_media_settings", tests, NULL,
                                       NULL);
}
