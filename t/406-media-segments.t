#!/usr/bin/perl

# The HLS segmenter through build/sfn-task: a short first segment
# (FirstSegmentLength) cut on an IDR frame forced there, SegmentLength for
# the rest, key frames aligned across rungs, every segment playable alone,
# TS and fMP4, audio-only and video-only variants, a source shorter than the
# first segment; hostile FirstSegmentLength values.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Temp qw(tempdir);
use JSON::PP;

Sfn::Test::need_tool('sfn-task');
Sfn::Test::need_ffmpeg();

my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/src";
mkdir "$dir/out";

sub task {
    my ($input) = @_;
    return Sfn::Test::run_task('sfn:media:transcode', $input, dir => $dir,
                               buckets => { src => "$dir/src",
                                            out => "$dir/out" });
}

sub slurp {
    my $file = shift;
    local $/;
    open my $f, '<', $file or return undef;
    return scalar <$f>;
}

sub durations {
    my $pl = shift;
    return [map { sprintf '%.1f', $_ } $pl =~ /^#EXTINF:([\d.]+),/mg];
}

sub segments {
    return grep { length && !/^#/ } split /\n/, shift // '';
}

# frames decoded from a file or playlist: video, audio
sub frames {
    my $file = shift;
    my %n = map { (split /,/)[0, 1] }
            split /\n/, `ffprobe -v error -count_frames -show_entries stream=codec_type,nb_read_frames -of csv=p=0 "$file"`;
    return ($n{video} // 0, $n{audio} // 0);
}

# RFC 8216 as a player reads a VOD media playlist
sub valid_vod {
    my ($pl, $name) = @_;
    my ($target) = $pl =~ /^#EXT-X-TARGETDURATION:(\d+)$/m;
    like($pl, qr/\A#EXTM3U\n/, "$name: #EXTM3U first");
    like($pl, qr/^#EXT-X-PLAYLIST-TYPE:VOD$/m, "$name: VOD");
    like($pl, qr/#EXT-X-ENDLIST\n\z/, "$name: ends with ENDLIST");
    ok(!grep({ int($_ + 0.5) > $target } @{ durations($pl) }),
       "$name: no EXTINF over the target duration $target");
}

# one HLS group over the source "src" KEY: OUTPUTS, group settings GS

sub hls_job {
    my ($key, $gs, @outputs) = @_;
    return {
        Settings => {
            Inputs => [{ FileInput => "s3://src/$key" }],
            OutputGroups => [{
                Name => 'HLS',
                OutputGroupSettings => {
                    Type => 'HLS_GROUP_SETTINGS',
                    HlsGroupSettings => {
                        Destination => 's3://out/' . ($gs->{dir} // 'h')
                                       . '/index',
                        map { $_ eq 'dir' ? () : ($_ => $gs->{$_}) }
                            keys %$gs,
                    },
                },
                Outputs => \@outputs,
            }],
        },
    };
}

my $aac = [{ CodecSettings => { Codec => 'AAC', AacSettings => {
    Bitrate => 96000, CodingMode => 'CODING_MODE_2_0',
    SampleRate => 48000 } } }];

sub video {
    my ($nm, $h, $audio) = @_;
    return { NameModifier => $nm,
             ContainerSettings => { Container => 'M3U8' },
             VideoDescription => {
                 Height => $h,
                 CodecSettings => { Codec => 'H_264', H264Settings => {
                     RateControlMode => 'QVBR',
                     QvbrSettings => { QvbrQualityLevel => 7 } } } },
             ($audio // 1 ? (AudioDescriptions => $aac) : ()) };
}

sub audio {
    my ($nm) = @_;
    return { NameModifier => $nm,
             ContainerSettings => { Container => 'M3U8' },
             AudioDescriptions => $aac };
}

Sfn::Test->lavfi_clip("$dir/src/clip.mp4", rate => 30, t => 8,
                       sine => 'frequency=440:sample_rate=48000',
                       args => [ '-pix_fmt', 'yuv420p' ]);

# the default: a 1 s first segment, then cuts at the multiples of 3 s

my ($r, $rc) = task(hls_job('clip.mp4', { SegmentLength => 3, dir => 'd' },
                            video('_a', 180), video('_b', 90),
                            audio('_audio')));
is($rc, 0, 'TS ladder with an audio-only variant') or diag explain $r;

my (@kf, %first);
for my $v (qw(_a _b _audio)) {
    my $pl = slurp("$dir/out/d/index$v.m3u8");
    valid_vod($pl, "index$v");
    my @segs = segments($pl);
    my $d = durations($pl);
    is($d->[0], '1.0', "index$v: the first EXTINF is 1 s");
    is_deeply($d, ['1.0', '2.0', '3.0', '2.0'],
              "index$v: then cuts at 3 and 6 s") if $v ne '_audio';
    my $sum = 0;
    $sum += $_ for $pl =~ /^#EXTINF:([\d.]+),/mg;
    ok(abs($sum - 8) < 0.1, "index$v: the durations add up to 8 s ($sum)");
    for my $s (@segs) {
        my $data = slurp("$dir/out/d/$s") // '';
        ok(length($data) && length($data) % 188 == 0
           && substr($data, 0, 1) eq "\x47", "$s: whole TS packets");
        my %pids = map { ((ord(substr($data, $_ * 188 + 1, 1)) & 0x1f) << 8
                          | ord(substr($data, $_ * 188 + 2, 1))) => 1 } 0 .. 2;
        ok($pids{0}, "$s: a PAT at its start, it plays alone");
        next if $v eq '_audio';
        my @p = split /\n/, `ffprobe -v error -select_streams v -show_entries packet=flags -of csv=p=0 "$dir/out/d/$s"`;
        like($p[0] // '', qr/K/, "$s: its first video packet is a key frame");
    }
    push @kf, Sfn::Test::keyframes("$dir/out/d/index$v.m3u8") if $v ne '_audio';
    my ($nv, $na) = frames("$dir/out/d/index$v.m3u8");
    is($nv, $v eq '_audio' ? 0 : 240, "index$v: every video frame");
    ok($na >= 374, "index$v: all the audio ($na frames)");
}
is_deeply($kf[0], ['0.0', '1.0', '2.0', '3.0', '4.0', '6.0'],
          'key frames every 2 s and on every cut');
is_deeply($kf[1], $kf[0], 'aligned across rungs');

my $master = slurp("$dir/out/d/index.m3u8");
like($master, qr/^#EXT-X-STREAM-INF:[^\n]*CODECS="mp4a\.40\.2"\nindex_audio\.m3u8$/m,
     'the audio-only variant in the master, CODECS mp4a.40.2 only');
my $ifr = slurp("$dir/out/d/index_a_iframes.m3u8") // '';
is(scalar(() = $ifr =~ /^#EXT-X-BYTERANGE/mg), 6,
   'the I-frame playlist has every key frame');

# QC checks an audio-only variant with audio checks only

my $tc = $r->{output};
my ($q, $qrc) = Sfn::Test::run_task('sfn:media:qc', {
    source => { bucket => 'src', key => 'clip.mp4' }, transcode => $tc,
    outputs => [{ format => 'hls', bucket => 'out', key => 'd/index.m3u8' }] },
    dir => $dir, buckets => { src => "$dir/src", out => "$dir/out" });
is($qrc, 0, 'QC of a ladder with an audio-only variant') or diag explain $q;
my $hq = $q->{output}{qualityResults}[0] // {};
is($hq->{passed}, JSON::PP::true, 'it passes') or diag explain $hq;
my ($aq) = grep { $_->{audioOnly} } @{ $hq->{renditions} // [] };
ok($aq && $aq->{hasAudio} && !$aq->{hasVideo},
   'the audio-only variant is known as such') or diag explain $hq;
is($hq->{checks}{aligned}, JSON::PP::true, 'its segments align with the rungs');

# audio that runs past the video's end, across a cut (a 1 s clip: video
# 0.96 s, AAC 1.02 s): the audio-only variant ends with one segment
# more, the tail, and is still aligned where both have media

Sfn::Test->lavfi_clip("$dir/src/tail.mp4", duration => 1);
my ($tr, $trc) = task(hls_job('tail.mp4', { SegmentLength => 3, dir => 'tl' },
                              video('_a', 180), audio('_audio')));
is($trc, 0, 'a clip whose audio outlasts its video') or diag explain $tr;
is(scalar(segments(slurp("$dir/out/tl/index_audio.m3u8"))),
   scalar(segments(slurp("$dir/out/tl/index_a.m3u8"))) + 1,
   'the audio-only variant has the tail segment');
($q, $qrc) = Sfn::Test::run_task('sfn:media:qc', {
    source => { bucket => 'src', key => 'tail.mp4' },
    transcode => $tr->{output},
    outputs => [{ format => 'hls', bucket => 'out', key => 'tl/index.m3u8' }] },
    dir => $dir, buckets => { src => "$dir/src", out => "$dir/out" });
is($q->{output}{qualityResults}[0]{checks}{aligned}, JSON::PP::true,
   'QC: aligned where both have media') or diag explain $q;

my $res = $r->{output}{outputs}[0]{renditions} // [];
ok(!grep({ !defined $_->{firstSegmentAt} || $_->{firstSegmentAt} <= 0
           || $_->{firstSegmentAt} > 60 } @$res),
   'each rendition tells when its first segment was closed');

# fMP4, FirstSegmentLength 2.5 and SegmentLength 4

($r, $rc) = task(hls_job('clip.mp4', { SegmentLength => 4,
                                       FirstSegmentLength => 2.5,
                                       SegmentType => 'FMP4', dir => 'f' },
                         video('_a', 180), video('_b', 90)));
is($rc, 0, 'fMP4') or diag explain $r;
@kf = ();
for my $v (qw(_a _b)) {
    my $pl = slurp("$dir/out/f/index$v.m3u8");
    valid_vod($pl, "fMP4 index$v");
    is_deeply(durations($pl), ['2.5', '1.5', '4.0'],
              "fMP4 index$v: 2.5 s, then cuts at 4 s");
    like($pl, qr/^#EXT-X-MAP:URI="index${v}_init\.mp4"$/m, 'the init segment');
    my $init = slurp("$dir/out/f/index${v}_init.mp4") // '';
    ok($init =~ /moov/ && $init !~ /moof|mdat/,
       "index${v}_init.mp4: a moov, no media");
    for my $s (segments($pl)) {
        my $data = slurp("$dir/out/f/$s") // '';
        like($data, qr/moof/, "$s: a fragment");
    }
    my ($nv) = frames("$dir/out/f/index$v.m3u8");
    is($nv, 240, "fMP4 index$v: every frame");
    push @kf, Sfn::Test::keyframes("$dir/out/f/index$v.m3u8");
}
is_deeply($kf[0], ['0.0', '2.0', '2.5', '4.0', '6.0'],
          'fMP4: key frames every 2 s and on the cuts');
is_deeply($kf[1], $kf[0], 'fMP4: aligned');

# FirstSegmentLength equal to SegmentLength: segments as before

($r, $rc) = task(hls_job('clip.mp4', { SegmentLength => 6,
                                       FirstSegmentLength => '6', dir => 's' },
                         video('_a', 180)));
is($rc, 0, 'a first segment as long as the others') or diag explain $r;
is_deeply(durations(slurp("$dir/out/s/index_a.m3u8")), ['6.0', '2.0'],
          'segments of 6 s');
is_deeply(Sfn::Test::keyframes("$dir/out/s/index_a.m3u8"), ['0.0', '2.0', '4.0', '6.0'],
          'no extra key frame');

# a source shorter than the first segment; video only; audio only

Sfn::Test->lavfi_clip("$dir/src/blip.mp4", rate => 30, t => 0.5);
($r, $rc) = task(hls_job('blip.mp4', { dir => 'b' }, video('_a', 180)));
is($rc, 0, 'a 0.5 s source') or diag explain $r;
my $pl = slurp("$dir/out/b/index_a.m3u8");
valid_vod($pl, 'a 0.5 s source');
is_deeply(durations($pl), ['0.5'], 'one segment of 0.5 s');

Sfn::Test->lavfi_clip("$dir/src/mute.mp4", rate => 25, t => 4, audio => 0);
($r, $rc) = task(hls_job('mute.mp4', { dir => 'm' }, video('_a', 180)));
is($rc, 0, 'a source without audio') or diag explain $r;
$pl = slurp("$dir/out/m/index_a.m3u8");
is_deeply(durations($pl), ['1.0', '3.0'], 'video only: cut on the video');
my ($nv, $na) = frames("$dir/out/m/index_a.m3u8");
is("$nv/$na", '100/0', 'video only: every frame, no audio');

($r, $rc) = task(hls_job('mute.mp4', { dir => 'm2' }, video('_a', 180),
                         audio('_audio')));
is($rc, 0, 'a source without audio, a ladder with an audio-only rendition')
    or diag explain $r;
is_deeply([segments(slurp("$dir/out/m2/index.m3u8"))], ['index_a.m3u8'],
          'the audio-only rendition is left out');
ok(!-e "$dir/out/m2/index_audio.m3u8", 'and not written');

($r, $rc) = task(hls_job('mute.mp4', { dir => 'm3' }, audio('_audio')));
is($r->{error}, 'States.TaskFailed', 'audio alone from a silent source: fails');
like($r->{cause} // '', qr/"mute\.mp4" has no audio stream/, 'and says why');

Sfn::Test->ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=440:duration=5',
                  '-c:a', 'aac', "$dir/src/sound.m4a");
($r, $rc) = task(hls_job('sound.m4a', { dir => 'a', SegmentLength => 2 },
                         audio('_audio')));
is($rc, 0, 'a source without video, an audio-only variant')
    or diag explain $r;
$pl = slurp("$dir/out/a/index_audio.m3u8");
valid_vod($pl, 'audio only');
is_deeply(durations($pl), ['1.0', '1.0', '2.0', '1.0'],
          'audio only: cut on the audio, 1 s then every 2 s');
like(slurp("$dir/out/a/index.m3u8"), qr/CODECS="mp4a\.40\.2"\n/,
     'its master names AAC only');

# hostile values

for my $case (
    [ 'zero', 0 ], [ 'negative', -1 ], [ 'huge', 1e300 ],
    [ 'longer than SegmentLength', 7 ], [ 'not a number', 'abc' ],
    [ 'a number and text', '2s' ], [ 'a boolean', JSON::PP::true ],
    [ 'an object', {} ], [ 'an array', [1] ], [ 'a tiny one', 0.01 ])
{
    my ($name, $v) = @$case;
    ($r, $rc) = task(hls_job('clip.mp4', { FirstSegmentLength => $v,
                                           dir => 'x' }, video('_a', 90)));
    is($r->{error}, 'States.TaskFailed', "FirstSegmentLength $name: fails");
    like($r->{cause} // '',
         qr/HlsGroupSettings\.FirstSegmentLength must be a number from 0\.5 to 6/,
         "FirstSegmentLength $name: says why");
}

($r, $rc) = task(hls_job('clip.mp4', { FirstSegmentLength => undef,
                                       SegmentLength => '2', dir => 'n' },
                         video('_a', 90)));
is($rc, 0, 'a null FirstSegmentLength: the default') or diag explain $r;
is_deeply(durations(slurp("$dir/out/n/index_a.m3u8")),
          ['1.0', '1.0', '2.0', '2.0', '2.0'], '1 s, then every 2 s');

# our own job spec carries it too

($r, $rc) = task({ input => { bucket => 'src', key => 'clip.mp4' },
                   outputs => [{ type => 'hls', bucket => 'out',
                                 prefix => 'o/', name => 'index',
                                 segmentLength => 4,
                                 firstSegmentLength => 2,
                                 renditions => [{ name => '_a',
                                                  height => 90 }] }] });
is($rc, 0, 'firstSegmentLength in our spec') or diag explain $r;
is_deeply(durations(slurp("$dir/out/o/index_a.m3u8")), ['2.0', '2.0', '4.0'],
          '2 s, then every 4 s');

done_testing();
