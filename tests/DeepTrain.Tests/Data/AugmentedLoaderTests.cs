using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Data;

/// <summary>The whole augmentation pipeline in the loader: one seed, any worker count; bad options; CutMix training; test-time augmentation.</summary>
public class AugmentedLoaderTests
{
    private static Dataset Rgb(int n, int classes = 3, int size = 8)
    {
        var r = new Random(21);
        var px = new byte[n * 3 * size * size];
        r.NextBytes(px);
        return new Dataset("rgb", 3, size, size, classes, px, Enumerable.Range(0, n).Select(i => i % classes).ToArray());
    }

    private static readonly AugmentationOptions Everything = new()
    {
        Padding = 2, HorizontalFlip = true, Brightness = 0.4f, Contrast = 0.4f, Saturation = 0.4f,
        Degrees = 5, Translate = 0.1f, ErasingProbability = 0.5f, CutMixAlpha = 1f, CutMixProbability = 0.5f,
    };

    private static List<(float[] Images, int[] Labels, int[] LabelsB, float Lambda)> Collect(DataLoader loader, int epoch)
        => loader.Epoch(epoch).Select(b => ((float[])b.Images.Clone(), (int[])b.Labels.Clone(), (int[])b.LabelsB.Clone(), b.Lambda)).ToList();

    [Fact]
    public void EveryAugmentation_IsTheSameBitForBit_WhateverTheWorkerCount()
    {
        var ds = Rgb(40);
        var norm = Normalization.FromDataset(ds);
        using var serial = new DataLoader(ds, 8, true, norm, Everything, seed: 17, workers: 0);
        using var three = new DataLoader(ds, 8, true, norm, Everything, seed: 17, workers: 3, prefetch: 3);
        using var other = new DataLoader(ds, 8, true, norm, Everything, seed: 18, workers: 0);
        for (int e = 0; e < 3; e++)
        {
            var a = Collect(serial, e);
            var b = Collect(three, e);
            Assert.Equal(a.Count, b.Count);
            for (int k = 0; k < a.Count; k++)
            {
                Assert.Equal(a[k].Images, b[k].Images);
                Assert.Equal(a[k].Labels, b[k].Labels);
                Assert.Equal(a[k].LabelsB, b[k].LabelsB);
                Assert.Equal(a[k].Lambda, b[k].Lambda);
            }
            Assert.NotEqual(a[0].Images, Collect(other, e)[0].Images);   // the seed matters
        }
    }

    [Fact]
    public void AugmentedRow_IsThePipelineAppliedToItsSourceImage()
    {
        // The loader's row equals crop/flip → affine → jitter → normalise → erase drawn from (seed, epoch, position).
        var ds = Rgb(6);
        var norm = Normalization.FromDataset(ds);
        var o = new AugmentationOptions { Padding = 1, HorizontalFlip = true, Brightness = 0.3f, Contrast = 0.2f, Saturation = 0.5f, Degrees = 4, Translate = 0.2f, ErasingProbability = 0.7f };
        using var loader = new DataLoader(ds, 6, shuffle: false, norm, o, seed: 5, workers: 0);
        var batch = loader.Epoch(1).First();
        int s = ds.SampleSize, plane = 64;
        for (int i = 0; i < 6; i++)
        {
            var rng = SplitMix64.For(5, SplitMix64.AugmentStream, 1, (ulong)i);
            var cf = CropFlip.Draw(o, ref rng);
            var af = RandomAffine.Draw(o, 8, 8, ref rng);
            var cj = ColorJitter.Draw(o, ref rng);
            var er = RandomErasing.Draw(o.ErasingProbability, 8, 8, ref rng);
            var a = new float[s];
            var b = new float[s];
            cf.Apply(ds.Pixels.AsSpan(i * s, s), a, 3, 8, 8, 1, Normalization.Identity(3));
            af.Apply(a, b, 3, 8, 8);
            cj.Apply(b, 3, plane);
            var expected = new float[s];
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < plane; p++) expected[c * plane + p] = (b[c * plane + p] - norm.Mean[c]) / norm.Std[c];
            er.Apply(expected, 3, 8, 8);
            Assert.Equal(expected, batch.Images.AsSpan(i * s, s).ToArray());
        }
    }

    [Fact]
    public void CropAndFlipAlone_AreUnchangedByTheNewSteps()
    {
        // The float path with every new step at its identity equals the byte-table path.
        var ds = Rgb(8);
        var norm = Normalization.FromDataset(ds);
        using var table = new DataLoader(ds, 8, true, norm, AugmentationOptions.Standard, seed: 2, workers: 0);
        using var floats = new DataLoader(ds, 8, true, norm, new AugmentationOptions { Padding = 4, HorizontalFlip = true, Brightness = 1e-30f }, seed: 2, workers: 0);
        Assert.Equal(table.Epoch(0).First().Images, floats.Epoch(0).First().Images);
    }

    [Theory]
    [InlineData("Degrees", 5.5f, "[0, 5]")]
    [InlineData("Degrees", -1f, "AugmentationOptions.Degrees")]
    [InlineData("Translate", 1.5f, "[0, 1]")]
    [InlineData("ErasingProbability", 2f, "AugmentationOptions.ErasingProbability")]
    [InlineData("CutMixAlpha", -1f, "AugmentationOptions.CutMixAlpha")]
    [InlineData("CutMixProbability", 1.1f, "[0, 1]")]
    [InlineData("Brightness", -0.1f, "AugmentationOptions.Brightness")]
    [InlineData("Contrast", float.NaN, "≥ 0")]
    public void OutOfRangeOptions_AreRejected_WithTheValidRange(string property, float value, string expected)
    {
        var o = property switch
        {
            "Degrees" => new AugmentationOptions { Degrees = value },
            "Translate" => new AugmentationOptions { Translate = value },
            "ErasingProbability" => new AugmentationOptions { ErasingProbability = value },
            "CutMixAlpha" => new AugmentationOptions { CutMixAlpha = value },
            "CutMixProbability" => new AugmentationOptions { CutMixAlpha = 1, CutMixProbability = value },
            "Brightness" => new AugmentationOptions { Brightness = value },
            _ => new AugmentationOptions { Contrast = value },
        };
        var ds = Rgb(4);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 2, true, Normalization.FromDataset(ds), o, 1));
        Assert.Contains(expected, e.Message);
        Assert.Equal(property, e.ParamName);
    }

    [Fact]
    public void Saturation_OnGrayData_IsRejected_ButBrightnessAndContrastWork()
    {
        var gray = new Dataset("gray", 1, 4, 4, 2, Enumerable.Range(0, 64).Select(i => (byte)(i * 3)).ToArray(), [0, 1, 0, 1]);
        var e = Assert.Throws<ArgumentException>(() => new DataLoader(gray, 2, true, Normalization.Identity(1), new AugmentationOptions { Saturation = 0.2f }, 1));
        Assert.Contains("RGB", e.Message);
        Assert.Contains("'gray' has 1 channel", e.Message);
        using var ok = new DataLoader(gray, 2, true, Normalization.Identity(1), new AugmentationOptions { Brightness = 0.5f, Contrast = 0.5f }, 1, workers: 0);
        Assert.Equal(2, ok.Epoch(0).Count());
    }

    /// <summary>GlobalAvgPool2d → Linear: the average over the image does not change under a mirror.</summary>
    private static ModelGraph PoolNet(int channels, int classes)
    {
        var g = new ModelGraph("poolnet", Shape.Of(channels, 8, 8));
        var x = g.Apply("pool", new GlobalAvgPool2d(), g.Input);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(channels, classes), x);
        return g;
    }

    [Fact]
    public void Tta_OfAFlipInvariantModel_EqualsPlainEvaluation()
    {
        var ds = Rgb(30);
        var norm = Normalization.FromDataset(ds);
        using var backend = new CpuBackend();
        using var model = new Model(PoolNet(3, 3), backend, seed: 4);
        using var opt = new SGD(model.Parameters, 0f);
        using var trainer = new Trainer(model, opt, new ConstantLr(0f), new CrossEntropyLoss(), 8, 8);
        using var loader = new DataLoader(ds, 8, shuffle: false, norm, null, 0, workers: 0);
        var (loss, acc) = trainer.Evaluate(loader);
        var m = trainer.EvaluateWithTta(loader, TestTimeAugmentation.Parse("flip"), new ClassificationReport(3));
        Assert.Equal(2, m.Views);
        Assert.Equal(acc, m.Accuracy);
        Assert.Equal(acc, m.PlainAccuracy);
        Assert.Equal(loss, m.Loss, 1e-5);
        Assert.Equal(loss, m.PlainLoss, 1e-5);
    }

    [Fact]
    public void Tta_IsTheMeanSoftmaxOverTheViews()
    {
        // A model that is not flip-invariant (an MLP): check the mean of the views' probabilities by hand.
        var ds = Rgb(5);
        var norm = Normalization.FromDataset(ds);
        using var backend = new CpuBackend();
        using var model = new Model(DeepTrain.Zoo.SmallNets.Mlp(Shape.Of(3, 8, 8), 3, 6), backend, seed: 4);
        using var opt = new SGD(model.Parameters, 0f);
        using var trainer = new Trainer(model, opt, new ConstantLr(0f), new CrossEntropyLoss(), 5, 5);
        using var loader = new DataLoader(ds, 5, shuffle: false, norm, null, 0, workers: 0);
        var tta = TestTimeAugmentation.Parse("flip+crops");
        Assert.Equal(10, tta.Views);
        var m = trainer.EvaluateWithTta(loader, tta);

        var images = loader.Epoch(0).First().Images.ToArray();
        var plan = trainer.EvalPlan(5);
        var mean = new double[5 * 3];
        var view = new float[images.Length];
        var logits = new float[15];
        for (int v = 0; v < 10; v++)
        {
            tta.WriteView(v, images, view, 5, 3, 8, 8, norm);
            backend.CopyFromHost<float>(view, plan.Input);
            plan.Forward();
            backend.CopyToHost<float>(plan.Output, logits);
            for (int i = 0; i < 5; i++)
            {
                var z = logits.Skip(i * 3).Take(3).Select(x => (double)x).ToArray();
                double sum = z.Sum(Math.Exp);
                for (int j = 0; j < 3; j++) mean[i * 3 + j] += Math.Exp(z[j]) / sum / 10;
            }
        }
        double loss = Enumerable.Range(0, 5).Average(i => -Math.Log(mean[i * 3 + ds.Labels[i]]));
        double acc = Enumerable.Range(0, 5).Count(i => Enumerable.Range(0, 3).MaxBy(j => mean[i * 3 + j]) == ds.Labels[i]) / 5.0;
        Assert.Equal(loss, m.Loss, 1e-9);
        Assert.Equal(acc, m.Accuracy);
    }

    [Fact]
    public void TtaViews_AreTheMirrorsAndCornerCropsOfThePaddedImage()
    {
        var tta = new TestTimeAugmentation(flip: true, cropPadding: 1);
        var norm = new Normalization([0.5f], [0.5f]);   // pixel 0 → −1
        float[] img = [1, 2, 3, 4, 5, 6];              // 1×2×3
        float[] View(int v) { var d = new float[6]; tta.WriteView(v, img, d, 1, 1, 2, 3, norm); return d; }
        Assert.Equal(img, View(0));                                   // centre window = the image
        Assert.Equal([-1, -1, -1, -1, 1, 2], View(1));               // top-left: one padding row and column
        Assert.Equal([-1, -1, -1, 2, 3, -1], View(2));               // top-right
        Assert.Equal([-1, 4, 5, -1, -1, -1], View(3));               // bottom-left
        Assert.Equal([5, 6, -1, -1, -1, -1], View(4));               // bottom-right
        Assert.Equal([3, 2, 1, 6, 5, 4], View(5));                   // mirrored image
        Assert.Equal([-1, -1, -1, 2, 1, -1], View(6));               // mirrored top-left window
        Assert.Throws<ArgumentOutOfRangeException>(() => View(10));
        Assert.Equal(1, TestTimeAugmentation.Parse("none").Views);
        Assert.Equal(5, TestTimeAugmentation.Parse("crops").Views);
        var e = Assert.Throws<FormatException>(() => TestTimeAugmentation.Parse("flips"));
        Assert.Contains("flip+crops", e.Message);
    }

    [Fact]
    public void TrainingWithCutMix_LearnsAndMatchesAcrossWorkerCounts()
    {
        float[] Train(int workers)
        {
            var ds = Rgb(48);
            using var backend = new CpuBackend();
            using var model = new Model(DeepTrain.Zoo.SmallNets.Mlp(Shape.Of(3, 8, 8), 3, 8), backend, seed: 5);
            using var opt = new SGD(model.Parameters, 0.05f, momentum: 0.9f);
            using var loader = new DataLoader(ds, 12, true, Normalization.FromDataset(ds), Everything, seed: 9, dropLast: true, workers: workers);
            using var trainer = new Trainer(model, opt, new ConstantLr(0.05f), new CrossEntropyLoss(), 12, accumulationSteps: 2);
            for (int e = 0; e < 3; e++)
            {
                var r = trainer.TrainEpoch(loader, e);
                Assert.True(double.IsFinite(r.Loss) && r.Loss > 0, $"epoch {e} loss {r.Loss}");
            }
            return model.Parameters.AllValues.ToArray();
        }
        Assert.Equal(Train(0), Train(2));
    }
}

/// <summary>Runs alone (with the loader's own allocation test): it measures allocation across the whole process.</summary>
[Collection(nameof(DataLoaderAllocationTests))]
public class AugmentedLoaderAllocationTests
{
    [Fact]
    public void SteadyStateEpoch_WithEveryAugmentation_AllocatesNoPerImageScratch()
    {
        var px = new byte[512 * 3 * 32 * 32];
        new Random(1).NextBytes(px);
        var ds = new Dataset("noise", 3, 32, 32, 10, px, Enumerable.Range(0, 512).Select(i => i % 10).ToArray());
        var all = new AugmentationOptions
        {
            Padding = 4, HorizontalFlip = true, Brightness = 0.4f, Contrast = 0.4f, Saturation = 0.4f,
            Degrees = 5, Translate = 0.1f, ErasingProbability = 0.5f, CutMixAlpha = 1f,
        };
        using var loader = new DataLoader(ds, 64, shuffle: true, Normalization.FromDataset(ds), all, seed: 1, workers: 2);
        // Warm-up: starts the threads, makes each one's scratch (a worker may sit out a whole epoch), warms the JIT.
        for (int e = 0; e < 3; e++) foreach (var _ in loader.Epoch(e)) { }
        long before = GC.GetTotalAllocatedBytes(precise: true);
        int batches = 0;
        foreach (var _ in loader.Epoch(3)) batches++;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(8, batches);
        // One image's scratch is 2·3·32·32·4 = 24 KB and one batch 786 KB: an epoch that made either per image
        // or per batch would allocate megabytes.
        Assert.True(allocated < 32 * 1024, $"a steady-state augmented epoch allocated {allocated} bytes");
    }
}
