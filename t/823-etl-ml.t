#!/usr/bin/perl

# The seed's ETL pipeline (glue:startJobRun.sync) and ML training pipeline
# (sagemaker:createTrainingJob.sync, createEndpoint) from conf-examples/,
# against small Glue- and SageMaker-shaped services: the jobs are started,
# polled by timers until done (the Glue run at the Location its start
# answered, the training job at URL/<name>), and their descriptions are
# the states' results.  Failure paths: a Glue run that fails is retried
# as the seed says and then fails the execution with the run as the
# cause; a training job that fails fails the execution.  The ML loop runs
# twice (accuracy under 0.9 tunes and trains again).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use Sfn::Service;

Sfn::Test::need_postgres();

my $svc = Sfn::Service->new(sub {
    my ($req, $svc) = @_;
    my ($p, $j) = ($req->{path}, $req->{json});

    # Glue: StartJobRun, then GetJobRun at the Location; RUNNING twice

    if ($p eq '/glue' && $req->{method} eq 'POST') {
        my $id = 'jr_' . $svc->count('/glue');
        open my $f, '>', $svc->dir . "/$id" or die;
        print $f $svc->json->encode($j);
        close $f;
        return (200, { JobRunId => $id }, { Location => "/glue/runs/$id" });
    }
    if ($p =~ m{^/glue/runs/(jr_\d+)$}) {
        my $id = $1;
        open my $f, '<', $svc->dir . "/$id" or return (404, {});
        my $start = $svc->json->decode(scalar <$f>);
        my $bad = $start->{Arguments}{'--input-path'} =~ /bad/;
        my $n = $svc->count($p);
        my $state = $n < 3 ? 'RUNNING' : $bad ? 'FAILED' : 'SUCCEEDED';
        return (200, { JobRun => {
            Id => $id, JobName => $start->{JobName},
            Arguments => $start->{Arguments}, JobRunState => $state,
            Attempt => 0, ExecutionTime => $n,
            ($bad && $n >= 3 ? (ErrorMessage => 'input not found') : ()) } });
    }
    return (200, { loaded => 1, rows => 42, run => $j->{Id} })
        if $p eq '/load-redshift';
    return (200, { catalog => 'updated', rows => $j->{rows} })
        if $p eq '/update-catalog';
    return (200, {}) if $p eq '/etl-notifications';

    # SageMaker: CreateTrainingJob, DescribeTrainingJob at URL/<name>

    if ($p eq '/prepare') {
        return (200, { %$j, trainingJobName => 'train-1',
                       hyperParameters => $j->{hyperParameters}
                                          // { eta => '0.3' },
                       trainingData => 's3://data/train/',
                       modelOutput => 's3://data/model/',
                       endpointName => 'churn', endpointConfigName => 'churn-1' });
    }
    if ($p eq '/training' && $req->{method} eq 'POST') {
        my $name = $j->{TrainingJobName};
        open my $f, '>', $svc->dir . "/$name" or die;
        print $f $svc->json->encode($j);
        close $f;
        return (200, { TrainingJobArn =>
                       "arn:aws:sagemaker:us-east-1:123456789012:training-job/$name" });
    }
    if ($p =~ m{^/training/([\w-]+)$}) {
        my $name = $1;
        open my $f, '<', $svc->dir . "/$name" or return (404, {});
        my $start = $svc->json->decode(scalar <$f>);
        my $n = $svc->count($p);
        my $bad = ($start->{HyperParameters}{eta} // '') eq 'bad';
        my $st = $n < 2 ? 'InProgress' : $bad ? 'Failed' : 'Completed';
        return (200, { TrainingJobName => $name,
                       TrainingJobStatus => $st,
                       HyperParameters => $start->{HyperParameters},
                       ($bad ? (FailureReason => 'AlgorithmError: diverged')
                             : ()),
                       ModelArtifacts => { S3ModelArtifacts =>
                           "$start->{OutputDataConfig}{S3OutputPath}$name/model.tar.gz" } });
    }
    if ($p eq '/evaluate') {
        my $first = $j->{TrainingJobName} eq 'train-1';
        return (200, { accuracy => $first ? 0.85 : 0.93,
                       model => $j->{ModelArtifacts}{S3ModelArtifacts},
                       endpointName => 'churn', endpointConfigName => 'churn-1',
                       hyperParameters => $j->{HyperParameters} });
    }
    if ($p eq '/tune') {
        return (200, { trainingJobName => 'train-2',
                       hyperParameters => { eta => '0.1' },
                       trainingData => 's3://data/train/',
                       modelOutput => 's3://data/model/' });
    }
    if ($p eq '/endpoint') {
        return (200, { EndpointArn =>
                       "arn:aws:sagemaker:us-east-1:123456789012:endpoint/$j->{EndpointName}" });
    }
    return (404, { message => "no route $p" });
});

my $t = Sfn::Test->new;
$t->copy_example("$_.asl.json") for qw(etl-pipeline ml-training);
my $u = $svc->url;

$t->start($t->sfn_http(
    machines => [ etl => 'etl-pipeline.asl.json',
                  ml => 'ml-training.asl.json' ],
    http => <<"END",
    sfn_integration   arn:aws:glue:*:*:job/ETL-Job $u/glue poll=100ms;
    sfn_integration   arn:aws:lambda:*:*:function:LoadRedshift $u/load-redshift;
    sfn_integration   arn:aws:lambda:*:*:function:UpdateGlueCatalog $u/update-catalog;
    sfn_integration   arn:aws:sns:*:*:etl-notifications $u/etl-notifications;
    sfn_integration   arn:aws:lambda:*:*:function:PrepareData $u/prepare;
    sfn_integration   arn:aws:sagemaker:*:*:training-job/* $u/training poll=100ms;
    sfn_integration   arn:aws:lambda:*:*:function:EvaluateModel $u/evaluate;
    sfn_integration   arn:aws:lambda:*:*:function:TuneParams $u/tune;
    sfn_integration   arn:aws:states:::sagemaker:createEndpoint $u/endpoint;
END
    server => "location = / { sfn_aws_api; }\n"));

sub history {
    my ($arn) = @_;
    my ($st, $h) = $t->aws_api('GetExecutionHistory',
                               { executionArn => $arn, maxResults => 1000 });
    return @{ $h->{events} // [] };
}

# ETL: the Glue run polled to SUCCEEDED, then load, catalog, notification

my $d = $t->aws_run('etl', { inputPath => 's3://in/2026/', outputPath => 's3://out/' });
is($d->{status}, 'SUCCEEDED', 'ETL: succeeded') or diag explain $d;
is($t->states_entered($d->{executionArn}),
   'StartGlueJob,LoadToRedshift,UpdateCatalog,SendNotification',
   'ETL: the states entered');
my ($start) = $svc->requests('/glue');
is_deeply($start->{json}{Arguments},
          { '--input-path' => 's3://in/2026/', '--output-path' => 's3://out/' },
          'ETL: the job run started with the arguments');
is($svc->count('/glue/runs/jr_1'), 3, 'ETL: polled at its Location until done');
my ($load) = $svc->requests('/load-redshift');
is($load->{json}{JobRunState}, 'SUCCEEDED',
   'ETL: the .sync result is the job run (GetJobRun\'s JobRun)');
is($load->{json}{Id}, 'jr_1', '... its id');
my ($note) = $svc->requests('/etl-notifications');
is($note->{json}{Message}, 'ETL pipeline completed successfully',
   'ETL: the notification');
my @ev = history($d->{executionArn});
my ($sub) = grep { $_->{type} eq 'TaskSubmitted' } @ev;
my ($ok) = grep { $_->{type} eq 'TaskSucceeded' } @ev;
is($ok->{taskSucceededEventDetails}{resource}, 'startJobRun.sync',
   'history: TaskSucceeded of startJobRun.sync');
is($ok->{taskSucceededEventDetails}{resourceType}, 'glue', '... glue');

# ETL failure: each attempt fails, retried twice, then the run is the cause

$d = $t->aws_run('etl', { inputPath => 's3://in/bad/', outputPath => 's3://out/' },
                 timeout => 60);
is($d->{status}, 'FAILED', 'ETL, failing job: failed') or diag explain $d;
is($d->{error}, 'States.TaskFailed', '... States.TaskFailed');
like($d->{cause}, qr/"JobRunState":"FAILED"/, '... the job run is the cause');
like($d->{cause}, qr/input not found/, '... with its ErrorMessage');
@ev = history($d->{executionArn});
is(scalar(grep { $_->{type} eq 'TaskFailed' } @ev), 3,
   'history: three attempts failed (MaxAttempts 2)');
is(scalar(grep { $_->{type} eq 'TaskScheduled' } @ev), 3,
   '... each scheduled');
is($t->states_entered($d->{executionArn}), 'StartGlueJob',
   '... and nothing after it ran');

# ML: trained twice (tuned once), then deployed

$d = $t->aws_run('ml', { project => 'churn' }, timeout => 60);
is($d->{status}, 'SUCCEEDED', 'ML: succeeded') or diag explain $d;
is($t->states_entered($d->{executionArn}),
   'PrepareData,TrainModel,EvaluateModel,CheckAccuracy,TuneHyperparameters,'
   . 'TrainModel,EvaluateModel,CheckAccuracy,DeployModel',
   'ML: under 0.9 it tunes and trains again, then deploys');
like($d->{output_json}{EndpointArn}, qr{endpoint/churn$},
     'ML: createEndpoint\'s reply is the result');
my @train = $svc->requests('/training');
is(scalar @train, 2, 'ML: two training jobs started');
is($train[0]{json}{TrainingJobName}, 'train-1', '... train-1');
is($train[1]{json}{HyperParameters}{eta}, '0.1', '... then with tuned parameters');
is($train[0]{json}{InputDataConfig}[0]{DataSource}{S3DataSource}{S3Uri},
   's3://data/train/', 'ML: the training data from the input');
my ($eval) = $svc->requests('/evaluate');
is($eval->{json}{TrainingJobStatus}, 'Completed',
   'ML: the .sync result is DescribeTrainingJob\'s');
like($eval->{json}{ModelArtifacts}{S3ModelArtifacts}, qr{model/train-1/},
     '... with the model artifacts');

# ML failure: the training job fails, and so does the execution

$d = $t->aws_run('ml', { hyperParameters => { eta => 'bad' } }, timeout => 60);
is($d->{status}, 'FAILED', 'ML, diverging job: failed') or diag explain $d;
is($d->{error}, 'States.TaskFailed', '... States.TaskFailed');
like($d->{cause}, qr/"TrainingJobStatus":"Failed"/,
     '... the job\'s description is the cause');
like($d->{cause}, qr/AlgorithmError: diverged/, '... with its FailureReason');
is($t->states_entered($d->{executionArn}), 'PrepareData,TrainModel',
   '... and nothing after it ran');

$t->stop;
$svc->stop;

done_testing();
