using System.CommandLine;
using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Data;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain train</c>'s options, and their translation into the library's <see cref="FitOptions"/>.</summary>
internal sealed class TrainCliOptions
{
    public readonly Option<string> Model = Model("resnet20");
    public readonly Option<string> Data = new Option<string>("--data") { Description = "Data set: " + string.Join(", ", DatasetCatalog.Names), DefaultValueFactory = _ => "fashion-mnist" };
    public readonly Option<string?> DataDir = new Option<string?>("--data-dir") { Description = "Folder holding the data set's files (default: the system location or $DEEPTRAIN_DATA)" };
    public readonly Option<int> Epochs = new Option<int>("--epochs", "-e") { Description = "Passes over the training set", DefaultValueFactory = _ => 4 };
    public readonly Option<int> Batch = BatchSize(128);
    public readonly Option<float?> Lr = new Option<float?>("--lr") { Description = "Learning rate (the peak rate for one-cycle); default: the model's own, shown by 'deeptrain models' (0.1 for the ResNets, 0.01 for lenet5)" };
    public readonly Option<float> Momentum = new Option<float>("--momentum") { Description = "SGD momentum (one-cycle cycles it between 0.85 and 0.95 unless --no-cycle-momentum)", DefaultValueFactory = _ => 0.9f };
    public readonly Option<float> Wd = new Option<float>("--weight-decay") { Description = "L2 weight decay λ (the loss gains λ/2·‖w‖²; PyTorch's and Caffe's meaning); conv/linear weights only", DefaultValueFactory = _ => 5e-4f };
    public readonly Option<bool> Nesterov = new Option<bool>("--nesterov") { Description = "Nesterov momentum" };
    public readonly Option<float> L1 = new Option<float>("--l1") { Description = "L1 penalty λ1: the loss gains λ1·‖w‖₁, the gradient λ1·sign(w), under any optimizer; with --l2, the elastic net (conv/linear weights only)", DefaultValueFactory = _ => 0f };
    public readonly Option<float> L2 = new Option<float>("--l2") { Description = "L2 penalty λ2: the loss gains λ2/2·‖w‖², the gradient λ2·w, under any optimizer (with sgd the same as --weight-decay; with adamw not decoupled)", DefaultValueFactory = _ => 0f };
    public readonly Option<string?> Schedule = new Option<string?>("--schedule") { Description = "Learning-rate schedule: one-cycle; multistep (÷10 at 50% and 75%, the paper's steps); cosine; cosine-restarts (SGDR, period one epoch doubling); step (÷10 every third of training); exponential (smoothly ÷100 over training); constant; default: the model's own, shown by 'deeptrain models' (one-cycle for every built-in model)" };
    public readonly Option<string> Optimizer = new Option<string>("--optimizer") { Description = "sgd (momentum, L2 decay), adam (L2 decay), adamw (decoupled decay), adagrad or rmsprop (L2 decay; --momentum is RMSprop's momentum)", DefaultValueFactory = _ => "sgd" };
    public readonly Option<int> Accumulate = new Option<int>("--accumulate") { Description = "Split each batch into K micro-batches and sum their gradients before one step (Caffe's iter_size; less memory)", DefaultValueFactory = _ => 1 };
    public readonly Option<string?> Resume = new Option<string?>("--resume") { Description = "Continue the run saved in this folder (model.safetensors + training_state.safetensors); same seed, same result; writes into that folder unless --out is given" };
    public readonly Option<int> ValSplit = new Option<int>("--val-split") { Description = "Carve N samples (seeded) from the training set for validation; reported each epoch", DefaultValueFactory = _ => 0 };
    public readonly Option<int> EarlyStop = new Option<int>("--early-stop") { Description = "Stop when the validation loss has not improved for P epochs (needs --val-split)", DefaultValueFactory = _ => 0 };
    public readonly Option<int> PreciseBn = new Option<int>("--precise-bn") { Description = "Before each evaluation, recompute batch-norm statistics as the average over N training batches (0: PyTorch's running averages)", DefaultValueFactory = _ => 0 };
    public readonly Option<string> BnAverage = new Option<string>("--bn-average") { Description = "Batch-norm running statistics: running (exponential, momentum 0.1, PyTorch's default) or cumulative (the plain average over every training batch, PyTorch's momentum=None)", DefaultValueFactory = _ => "running" };
    public readonly Option<int> Overfit = new Option<int>("--overfit-batches") { Description = "Sanity check: train on only the first N batches (no augmentation); a healthy setup drives the training loss towards 0", DefaultValueFactory = _ => 0 };
    public readonly Option<int> StatsEvery = new Option<int>("--stats-every") { Description = "Every N steps, print per-layer activation statistics (mean, std, zeros) and gradient norms with the update/weight ratio (slow; for debugging)", DefaultValueFactory = _ => 0 };
    public readonly Option<string?> InitFrom = new Option<string?>("--init-from") { Description = "Fine-tune: start from the weights of this safetensors file wherever names and shapes match, and report the rest" };
    public readonly Option<string?> Freeze = new Option<string?>("--freeze") { Description = "Comma-separated parameter-name prefixes to leave unchanged (e.g. conv1,layer1)" };
    public readonly Option<string?> LrScale = new Option<string?>("--lr-scale") { Description = "Per-layer learning rates: PREFIX=SCALE[,PREFIX=SCALE] multiplies the rate of those parameters (e.g. layer1=0.1,linear=2)" };
    public readonly Option<string> MomentumForm = new Option<string>("--momentum-form") { Description = "SGD momentum as pytorch (b ← μb + g; w ← w − lr·b) or caffe (v ← μv + lr·g; w ← w − v); they differ when the rate changes", DefaultValueFactory = _ => "pytorch" };
    public readonly Option<int> LrReference = new Option<int>("--lr-reference-batch") { Description = "Linear scaling rule (Goyal et al. 2017): --lr was tuned for this batch size, so use lr·batch/B (0: off)", DefaultValueFactory = _ => 0 };
    public readonly Option<int> Warmup = new Option<int>("--warmup-epochs") { Description = "Linear learning-rate warm-up before the schedule (not with one-cycle, which has its own)", DefaultValueFactory = _ => 0 };
    public readonly Option<bool> NoCycle = new Option<bool>("--no-cycle-momentum") { Description = "Keep momentum fixed under one-cycle" };
    public readonly Option<bool> Augment = new Option<bool>("--augment") { Description = "Pad-and-random-crop (4 pixels) and horizontal flip on worker threads" };
    public readonly Option<string> Device = Device();
    public readonly Option<ulong> Seed = new Option<ulong>("--seed") { Description = "Seed for initialisation, shuffling, augmentation and dropout", DefaultValueFactory = _ => 1UL };
    public readonly Option<string?> OutDir = new Option<string?>("--out", "-o") { Description = "Output folder for metrics.jsonl, metrics.png, model.safetensors and training_state.safetensors (default: the --resume folder, else runs/latest); a folder holding another run needs --overwrite" }
        .Require(o => !string.IsNullOrWhiteSpace(o), "a folder path");
    public readonly Option<int?> Threads = new Option<int?>("--threads") { Description = "CPU backend threads (default: all processors)" };
    public readonly Option<int> EvalBatch = new Option<int>("--eval-batch-size") { Description = "Batch size for evaluation", DefaultValueFactory = _ => 500 };
    public readonly Option<string> Layout = Layout();
    public readonly Option<int> LogEvery = new Option<int>("--log-every") { Description = "Print a step log line every N steps (0: never)", DefaultValueFactory = _ => 0 };
    public readonly AugmentationCliOptions Augmentation = new AugmentationCliOptions();
    public readonly Option<string> Precision = new Option<string>("--precision") { Description = "fp32, fp16 or bf16: 16-bit activations and weight copies over fp32 master weights (the CPU emulates 16-bit storage)", DefaultValueFactory = _ => "fp32" };
    public readonly Option<string?> LossScale = new Option<string?>("--loss-scale") { Description = "dynamic (GradScaler: 2^16, ×2 per 2000 clean steps, ×0.5 and skip on overflow), static:S, or off; default dynamic for fp16, off otherwise" };
    public readonly Option<float?> ClipNorm = new Option<float?>("--clip-grad-norm") { Description = "Clip the gradients' global L2 norm to MAX after unscaling (torch.nn.utils.clip_grad_norm_)" };
    public readonly Option<bool> DetectAnomaly = new Option<bool>("--detect-anomaly") { Description = "Read the loss back after every step (Trainer.SyncEvery = 1), so a NaN/∞ loss stops the run at that very step, before its update, naming the first non-finite layer; slower on a GPU. Otherwise the loss reaches the host every --log-every steps (default 20)" };
    public readonly Option<double> BucketMb = new Option<double>("--bucket-mb") { Description = "Under mpirun/srun: gradient megabytes (MiB) per all-reduce bucket, filled in reverse layer order (PyTorch DDP's bucket_cap_mb)", DefaultValueFactory = _ => 25.0 };
    public readonly Option<bool> NoOverlap = new("--no-overlap") { Description = "Under mpirun/srun: all-reduce the gradients only after backward instead of overlapping each bucket with it (for measuring what overlap saves)" };
    public readonly Option<double> CollectiveTimeout = new Option<double>("--collective-timeout") { Description = "Under mpirun/srun: seconds a collective (the broadcast at start included) may wait for the other ranks before the job is aborted naming the rank", DefaultValueFactory = _ => 300.0 };
    public readonly Option<bool> SyncBn = new("--sync-bn") { Description = "Under mpirun/srun: batch norm over the global batch, in forward and backward (PyTorch's SyncBatchNorm), so N ranks of batch B train as one process of N·B; default: each rank's own batch (DDP's default)" };
    public readonly Option<bool> Overwrite = new("--overwrite") { Description = "Replace the checkpoint of another run in the --out folder (without it, such a folder is refused)" };

    public TrainCliOptions()
    {
        Schedule.AcceptOnlyFromAmong([.. ScheduleFactory.Names]);
        Optimizer.AcceptOnlyFromAmong([.. OptimizerFactory.Names]);
        BnAverage.AcceptOnlyFromAmong("running", "cumulative");
        MomentumForm.AcceptOnlyFromAmong("pytorch", "caffe");
    }

    /// <summary>Adds every option to <paramref name="cmd"/>.</summary>
    public void AddTo(Command cmd)
    {
        cmd.Options.Add(Model);
        cmd.Options.Add(Data);
        cmd.Options.Add(DataDir);
        cmd.Options.Add(Epochs);
        cmd.Options.Add(Batch);
        cmd.Options.Add(Lr);
        cmd.Options.Add(Momentum);
        cmd.Options.Add(Wd);
        cmd.Options.Add(Nesterov);
        cmd.Options.Add(L1);
        cmd.Options.Add(L2);
        cmd.Options.Add(Schedule);
        cmd.Options.Add(Optimizer);
        cmd.Options.Add(Accumulate);
        cmd.Options.Add(Resume);
        cmd.Options.Add(ValSplit);
        cmd.Options.Add(EarlyStop);
        cmd.Options.Add(PreciseBn);
        cmd.Options.Add(BnAverage);
        cmd.Options.Add(Overfit);
        cmd.Options.Add(StatsEvery);
        cmd.Options.Add(InitFrom);
        cmd.Options.Add(Freeze);
        cmd.Options.Add(LrScale);
        cmd.Options.Add(MomentumForm);
        cmd.Options.Add(LrReference);
        cmd.Options.Add(Warmup);
        cmd.Options.Add(NoCycle);
        cmd.Options.Add(Augment);
        cmd.Options.Add(Device);
        cmd.Options.Add(Seed);
        cmd.Options.Add(OutDir);
        cmd.Options.Add(Threads);
        cmd.Options.Add(EvalBatch);
        cmd.Options.Add(Layout);
        cmd.Options.Add(LogEvery);
        cmd.Options.Add(Precision);
        cmd.Options.Add(LossScale);
        cmd.Options.Add(ClipNorm);
        cmd.Options.Add(DetectAnomaly);
        cmd.Options.Add(Overwrite);
        cmd.Options.Add(BucketMb);
        cmd.Options.Add(NoOverlap);
        cmd.Options.Add(CollectiveTimeout);
        cmd.Options.Add(SyncBn);
        Augmentation.AddTo(cmd);
    }

    /// <summary>The data-parallel options (used only when launched by mpirun or srun).</summary>
    /// <exception cref="ArgumentException">--bucket-mb or --collective-timeout is not positive.</exception>
    public Distributed.DistributedOptions ToDistributedOptions(ParseResult r)
    {
        double mb = r.GetValue(BucketMb), timeout = r.GetValue(CollectiveTimeout);
        if (!(mb > 0) || double.IsInfinity(mb)) throw new ArgumentException($"--bucket-mb must be a positive number of MiB, got {mb}");
        if (!(timeout > 0) || double.IsInfinity(timeout)) throw new ArgumentException($"--collective-timeout must be a positive number of seconds, got {timeout}");
        return new Distributed.DistributedOptions
        {
            BucketBytes = Math.Max(sizeof(float), (long)(mb * (1 << 20))), OverlapWithBackward = !r.GetValue(NoOverlap), Timeout = TimeSpan.FromSeconds(timeout),
            SyncBatchNorm = r.GetValue(SyncBn),
        };
    }

    /// <summary>
    /// The library's options for a parsed command line, checked (before any data is read) so that a bad value fails
    /// naming its option; applies <c>--lr-reference-batch</c>'s linear scaling and says so.
    /// </summary>
    /// <exception cref="ArgumentException">A value out of range.</exception>
    /// <exception cref="FormatException">--lr-scale, --layout, --precision or --loss-scale is not valid.</exception>
    public FitOptions ToFitOptions(ParseResult r)
    {
        if (r.GetValue(Threads) is < 1) throw new ArgumentException($"--threads must be ≥ 1, got {r.GetValue(Threads)}");
        if (r.GetValue(LogEvery) < 0) throw new ArgumentException($"--log-every must be ≥ 0 (0: off), got {r.GetValue(LogEvery)}");
        int lrReference = r.GetValue(LrReference);
        if (lrReference < 0) throw new ArgumentException($"--lr-reference-batch must be ≥ 1 (or 0 for no scaling), got {lrReference}");
        string? resume = r.GetValue(Resume), lossScale = r.GetValue(LossScale);
        int batch = r.GetValue(Batch), logEvery = r.GetValue(LogEvery);
        // A rate or schedule the user gives wins; otherwise the model's own (ModelZoo.Find throws for an unknown name).
        var defaults = Zoo.ModelZoo.Find(r.GetValue(Model)!).Training;
        var fit = new FitOptions
        {
            Epochs = r.GetValue(Epochs), BatchSize = batch, EvalBatchSize = r.GetValue(EvalBatch), Seed = r.GetValue(Seed),
            Optimizer = new OptimizerOptions(r.GetValue(Optimizer)!, r.GetValue(Lr) ?? defaults.LearningRate, r.GetValue(Momentum), r.GetValue(Wd), r.GetValue(Nesterov),
                r.GetValue(MomentumForm) == "caffe" ? SgdMomentumForm.Caffe : SgdMomentumForm.PyTorch, r.GetValue(L1), r.GetValue(L2)),
            Schedule = new ScheduleOptions(r.GetValue(Schedule) ?? defaults.Schedule, r.GetValue(Warmup), !r.GetValue(NoCycle)),
            Augmentation = Augmentation.Build(r, r.GetValue(Augment)),
            AccumulationSteps = r.GetValue(Accumulate), ValidationSamples = r.GetValue(ValSplit), EarlyStoppingPatience = r.GetValue(EarlyStop),
            PreciseBatchNormBatches = r.GetValue(PreciseBn), CumulativeBatchNorm = r.GetValue(BnAverage) == "cumulative", OverfitBatches = r.GetValue(Overfit),
            Layout = ParseLayout(r.GetValue(Layout)!), Precision = PrecisionInfo.Parse(r.GetValue(Precision)!),
            LossScaling = lossScale is null ? null : LossScalerOptions.Parse(lossScale) ?? LossScalerOptions.Off,
            ClipGradNorm = r.GetValue(ClipNorm),
            // The loss reaches the host only at sync points: make every logged step one (the progress bar shows the last).
            SyncEvery = r.GetValue(DetectAnomaly) ? 1 : logEvery > 0 ? logEvery : null,
            StatisticsEvery = r.GetValue(StatsEvery), ParameterGroups = GroupRules(r.GetValue(Freeze), r.GetValue(LrScale)),
            InitFrom = r.GetValue(InitFrom), ResumeFrom = resume, OutputDirectory = r.GetValue(OutDir) ?? resume ?? "runs/latest", Overwrite = r.GetValue(Overwrite),
            Metadata = new Dictionary<string, string> { ["model"] = r.GetValue(Model)!, ["data"] = r.GetValue(Data)! },
        };
        fit.Validate();
        if (lrReference > 0)
        {
            float lr = fit.Optimizer.LearningRate, scaled = LrSchedule.ScaleForBatch(lr, batch, lrReference);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"linear scaling: lr {lr:G4} for batch {lrReference} becomes {scaled:G4} for batch {batch}"));
            fit = fit with { Optimizer = fit.Optimizer with { LearningRate = scaled } };
        }
        return fit;
    }

    /// <summary>Parameter groups from --freeze and --lr-scale (a frozen prefix wins over a scaled one).</summary>
    /// <exception cref="FormatException">--lr-scale is not PREFIX=SCALE pairs.</exception>
    private static List<ParameterGroupRule> GroupRules(string? freeze, string? lrScale)
    {
        var rules = new List<ParameterGroupRule>();
        foreach (var p in (freeze ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            rules.Add(new(p, Frozen: true));
        foreach (var pair in (lrScale ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = pair.Split('=');
            if (kv.Length != 2 || kv[0].Length == 0 || !float.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float scale) || !(scale >= 0) || !float.IsFinite(scale))
                throw new FormatException($"--lr-scale '{pair}' is not valid: expected PREFIX=SCALE with SCALE finite and ≥ 0, e.g. layer1=0.1");
            rules.Add(new(kv[0], LrScale: scale));
        }
        return rules;
    }
}
