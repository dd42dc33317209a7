using DeepTrain.Backends;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>Whole-model training on CudaBackend against CpuBackend: the same initialisation, data and optimizer.</summary>
public class CudaTrainingTests
{
    /// <summary>
    /// ResNet-20 (CIFAR variant) for 300 SGD steps at batch 16 on a fixed synthetic set (8 batches of seeded images whose
    /// label is a function of the image, so the loss falls), once per backend from the same seed. Tolerances: the first
    /// 10 steps agree to 1e-3 relative (the trajectories start identical and differ only by summation order); after that
    /// the curves may drift apart chaotically, so each 25-step window's mean loss must agree to 0.05 + 10% relative, and both
    /// runs must learn (the last window's mean below 60% of the first's).
    /// </summary>
    [Theory, MemberData(nameof(CudaVsCpuTests.Layouts), MemberType = typeof(CudaVsCpuTests))]
    public void ResNet20_300Steps_LossCurvesAgree(Layout layout)
    {
        using var gpu = TestBackends.Cuda();
        using var cpu = new DeepTrain.Backends.Cpu.CpuBackend();
        const int steps = 300, batch = 16, batches = 8, classes = 10;
        var images = TestData.Normal(1, batches * batch, 3, 32, 32);
        var labels = new int[batches * batch];
        for (int i = 0; i < labels.Length; i++)
        {
            // The label is the quadrant-and-channel pattern with the largest mean: learnable from the pixels.
            double best = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                int ch = c % 3, off = c / 3 * 8;
                double sum = 0;
                for (int h = off; h < off + 8; h++) for (int w = 0; w < 32; w++) sum += images[((i * 3 + ch) * 32 + h) * 32 + w];
                if (sum > best) { best = sum; labels[i] = c; }
            }
        }
        if (layout == Layout.NHWC) images = NaiveOps.ToFloat(NaiveOps.NchwToNhwc(images.ToDouble(), Shape.Of(batches * batch, 3, 32, 32)));

        float[] Run(IBackend b)
        {
            using var model = new Model(ResNetCifar.Build(20), b, seed: 7);
            using var plan = model.Compile(batch, training: true, new CrossEntropyLoss(), layout);
            using var opt = new SGD(model.Parameters, 0.05f, 0.9f, 5e-4f);
            var losses = new float[steps];
            var one = new float[1];
            int per = 3 * 32 * 32;
            for (int s = 0; s < steps; s++)
            {
                int first = s % batches * batch;
                b.CopyFromHost<float>(images.AsSpan(first * per, batch * per), plan.Input);
                b.CopyFromHost<int>(labels.AsSpan(first, batch), plan.Target);
                plan.TrainStep();
                opt.Step();
                b.CopyToHost<float>(plan.LossValue, one);
                losses[s] = one[0];
            }
            return losses;
        }

        float[] cl = Run(cpu), gl = Run(gpu);
        Tolerance.AssertClose(cl.AsSpan(0, 10), gl.AsSpan(0, 10), 0, 1e-3, "first 10 losses");
        double[] Windows(float[] l) => Enumerable.Range(0, steps / 25).Select(k => l.Skip(25 * k).Take(25).Average(v => (double)v)).ToArray();
        var cw = Windows(cl);
        var gw = Windows(gl);
        Tolerance.AssertClose(cw, gw.Select(v => (float)v).ToArray(), 0.05, 0.10, "25-step window means");
        Assert.True(cw[^1] < 0.6 * cw[0], $"CPU run did not learn: {cw[0]:F3} → {cw[^1]:F3}");
        Assert.True(gw[^1] < 0.6 * gw[0], $"CUDA run did not learn: {gw[0]:F3} → {gw[^1]:F3}");
    }

    /// <summary>The backend-generic gradient check and memory release on a whole model, via the factory.</summary>
    [Fact]
    public void Model_OnCuda_FreesEverything_OnDispose()
    {
        using var b = TestBackends.Cuda();
        using (var model = new Model(ResNetCifar.Build(20), b, seed: 1))
        using (var plan = model.Compile(4, training: true, new CrossEntropyLoss(), Layout.NHWC))
        using (var opt = new SGD(model.Parameters, 0.1f, 0.9f))
        {
            b.CopyFromHost<float>(TestData.Normal(1, 4, 3, 32, 32), plan.Input);
            b.CopyFromHost<int>([1, 2, 3, 4], plan.Target);
            plan.TrainStep();
            opt.Step();
            b.Synchronize();
            Assert.True(b.LiveBytes > 0);
        }
        Assert.Equal(0, b.LiveBytes);
        Assert.Equal(0, b.LeakedBuffers);
    }
}
