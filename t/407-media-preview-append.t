#!/usr/bin/perl

# The progressive publish through build/sfn-task ("Preview": true, no
# execution: files only).  Each EVENT playlist version a reader catches in
# the bucket while the job runs names only files already there (fMP4: its
# init segment too), and its segment lines are the lines of the version
# before with the new segments appended, up to the VOD playlist of the end:
# the playlist grows, it is never rebuilt differently.  TS and fMP4.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(sleep);
use JSON::PP ();

Sfn::Test::need_tool('sfn-task');
Sfn::Test::need_ffmpeg();

my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/src";
mkdir "$dir/out";

sub slurp {
    my $file = shift;
    local $/;
    open my $f, '<', $file or return undef;
    return scalar <$f>;
}

# the segment lines of a playlist (EXTINF and URI), the header apart
sub body {
    my $pl = shift;
    return join '', $pl =~ /^(#EXTINF:[^\n]*\n[^#\n][^\n]*\n)/mg;
}

sub files {
    my $pl = shift;
    return ((grep { length && !/^#/ } split /\n/, $pl),
            $pl =~ /^#EXT-X-MAP:URI="([^"]+)"/mg);
}

my $aac = [{ CodecSettings => { Codec => 'AAC', AacSettings => {
    Bitrate => 96000, CodingMode => 'CODING_MODE_2_0',
    SampleRate => 48000 } } }];

sub job {
    my ($sub, $type) = @_;
    return {
        Preview => JSON::PP::true,
        Settings => {
            Inputs => [{ FileInput => 's3://src/clip.mp4' }],
            OutputGroups => [{
                Name => 'HLS',
                OutputGroupSettings => {
                    Type => 'HLS_GROUP_SETTINGS',
                    HlsGroupSettings => {
                        Destination => "s3://out/hls/$sub/clip",
                        SegmentLength => 1,
                        FirstSegmentLength => 1,
                        SegmentType => $type,
                    },
                },
                Outputs => [map { {
                    NameModifier => "_$_",
                    ContainerSettings => { Container => 'M3U8' },
                    VideoDescription => {
                        Height => $_,
                        CodecSettings => { Codec => 'H_264', H264Settings => {
                            RateControlMode => 'QVBR',
                            QvbrSettings => { QvbrQualityLevel => 7 } } } },
                    AudioDescriptions => $aac } } (360, 180)],
            }],
        },
    };
}

Sfn::Test->lavfi_clip("$dir/src/clip.mp4", rate => 30, t => 12,
                       size => '640x360',
                       sine => 'frequency=440:sample_rate=48000',
                       args => [ '-pix_fmt', 'yuv420p' ]);

for my $type (qw(TS FMP4)) {
    my $sub = lc $type;
    my $hls = "$dir/out/hls/$sub";
    my $seen = "$dir/seen-$sub";

    # the reader: every version of each playlist, and whether the files it
    # names were in the bucket when it was read

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        my (%last, @log);
        my $end = time + 600;

        while (time < $end && !-e "$dir/stop-$sub") {
            for my $v (360, 180) {
                my $pl = slurp("$hls/clip_$v.m3u8");
                next if !defined $pl || $pl eq ($last{$v} // '');
                $last{$v} = $pl;
                my @missing = grep { !-s "$hls/$_" } files($pl);
                push @log, { v => $v, pl => $pl, missing => \@missing };
            }
            sleep 0.005;
        }

        open my $f, '>', $seen or POSIX::_exit(1);
        print $f Sfn::Test->json->encode(\@log);
        close $f;
        POSIX::_exit(0);
    }

    my ($r, $rc) = Sfn::Test::run_task('sfn:media:transcode', job($sub, $type),
                                       dir => $dir,
                                       buckets => { src => "$dir/src",
                                                    out => "$dir/out" });
    open my $f, '>', "$dir/stop-$sub" or die;
    close $f;
    waitpid $pid, 0;

    is($rc, 0, "$type: the job succeeded") or diag explain $r;

    my $log = Sfn::Test->json->decode(slurp($seen) // '[]');

    for my $v (360, 180) {
        my @versions = grep { $_->{v} == $v } @$log;
        my @event = grep { $_->{pl} =~ /^#EXT-X-PLAYLIST-TYPE:EVENT$/m }
                    @versions;
        my $vod = slurp("$hls/clip_$v.m3u8") // '';

        like($vod, qr/^#EXT-X-PLAYLIST-TYPE:VOD$/m, "$type $v: VOD at the end");
        my $n = () = $vod =~ /^#EXTINF:/mg;
        ok($n >= 10, "$type $v: $n segments");

        ok(@event >= 2, "$type $v: the reader saw " . scalar(@event)
                        . ' EVENT versions while the job ran');

        ok(!grep({ $_->{pl} =~ /#EXT-X-ENDLIST/ } @event),
           "$type $v: no EVENT version ends the list");

        is_deeply([map { @{ $_->{missing} } } @event], [],
                  "$type $v: every file an EVENT version names was there");

        like($event[0]{pl} // '', qr/^#EXT-X-MAP:URI="clip_${v}_init\.mp4"$/m,
             "$type $v: the init segment is named from the first version")
            if $type eq 'FMP4';

        # each version's lines start with the lines of the one before

        my ($prev, $grows) = ('', 1);

        for my $b ((map { body($_->{pl}) } @event), body($vod)) {
            $grows = 0 if substr($b, 0, length $prev) ne $prev
                          || length $b < length $prev;
            $prev = $b;
        }

        ok($grows, "$type $v: each version appends to the one before, "
                   . 'the VOD playlist too');

        my $segs = () = (body($event[-1]{pl} // '') =~ /^#EXTINF:/mg);
        ok($segs < $n, "$type $v: the last EVENT version seen had $segs of "
                       . "$n segments");
    }

    my @tmp = grep { m{/\.sfn-} } glob("$hls/.sfn-* $dir/out/.sfn-*");
    is_deeply(\@tmp, [], "$type: no temporary file left in the bucket");
}

done_testing;
