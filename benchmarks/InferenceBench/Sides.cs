// The sides a round times: DeepTrain's InferenceSession, ONNX Runtime's InferenceSession on the exported model, and PyTorch
// eager in a child process (benchmarks/reference/torch_inference.py) that the harness drives over stdin so its rounds
// alternate with the others'. Every side reads the same input and holds the same weights (one seeded checkpoint).
using System.Diagnostics;
using System.Globalization;
using DeepTrain.Inference;
using Ort = Microsoft.ML.OnnxRuntime;

namespace DeepTrain.InferenceBench;

/// <summary>One side of a comparison: times forward passes of the shared input.</summary>
internal interface ISide : IDisposable
{
    string Name { get; }
    /// <summary>One forward pass's logits, for the cross-check.</summary>
    float[] Logits { get; }
    /// <summary>WARMUP untimed passes, then ITERS timed ones; milliseconds each.</summary>
    double[] Round(int iters, int warmup);
}

/// <summary>DeepTrain: <see cref="InferenceSession.Run(ReadOnlySpan{float}, Span{float})"/> (host in, host out).</summary>
internal sealed class DeepTrainSide(string name, InferenceSession session, float[] x) : ISide
{
    private readonly float[] _y = new float[x.Length / session.SampleSize * session.Classes];
    public string Name => name;
    public float[] Logits { get { session.Run(x, _y); return (float[])_y.Clone(); } }
    public double[] Round(int iters, int warmup) => Timing.Time(iters, warmup, () => session.Run(x, _y));
    public void Dispose() => session.Dispose();
}

/// <summary>ONNX Runtime: <c>Run</c> with pre-bound input and output values (no allocation per call).</summary>
internal sealed class OrtSide : ISide
{
    private readonly Ort.InferenceSession _session;
    private readonly Ort.OrtValue _input, _output;
    private readonly Ort.RunOptions _run = new();
    private readonly float[] _y;
    private static readonly string[] s_in = [Onnx.OnnxExporter.InputName], s_out = [Onnx.OnnxExporter.OutputName];

    public OrtSide(Ort.InferenceSession session, float[] x, long[] shape, int classes)
    {
        _session = session;
        _y = new float[shape[0] * classes];
        _input = Ort.OrtValue.CreateTensorValueFromMemory(x, shape);
        _output = Ort.OrtValue.CreateTensorValueFromMemory(_y, [shape[0], classes]);
    }

    public string Name => "onnxruntime";
    public float[] Logits { get { Once(); return (float[])_y.Clone(); } }
    private void Once() => _session.Run(_run, s_in, [_input], s_out, [_output]);
    public double[] Round(int iters, int warmup) => Timing.Time(iters, warmup, Once);
    public void Dispose() { _input.Dispose(); _output.Dispose(); _run.Dispose(); }
}

/// <summary>PyTorch eager under torch.no_grad() in a child process; <paramref name="command"/> starts Python (with its environment).</summary>
internal sealed class TorchSide : ISide
{
    private readonly Process _p;

    public TorchSide(string name, string command, string checkpoint, string model, string chw, int batch, int threads, string device, float[] x, string dir)
    {
        Name = name;
        string xin = Path.Combine(dir, "input.f32"), yout = Path.Combine(dir, $"{name}.logits.f32");
        File.WriteAllBytes(xin, System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan()).ToArray());
        string script = Path.Combine(AppContext.BaseDirectory, "torch_inference.py");
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"exec {command} {script} {checkpoint} {model} {chw} {batch} {threads} {device} {xin} {yout}"])
        { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        _p = Process.Start(psi) ?? throw new InvalidOperationException($"{name}: could not start '{command}'");
        string ready = _p.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"{name}: '{command}' exited before it was ready (see its error above)");
        Console.WriteLine($"{name}: {ready} ({command})");
        var bytes = File.ReadAllBytes(yout);
        Logits = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, Logits, 0, bytes.Length);
    }

    public string Name { get; }
    public float[] Logits { get; }

    public double[] Round(int iters, int warmup)
    {
        _p.StandardInput.WriteLine($"run {iters} {warmup}");
        _p.StandardInput.Flush();
        string line = _p.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"{Name}: the PyTorch process ended");
        return line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
    }

    public void Dispose()
    {
        try { _p.StandardInput.WriteLine("quit"); _p.StandardInput.Close(); _p.WaitForExit(10_000); }
        finally { if (!_p.HasExited) _p.Kill(); _p.Dispose(); }
    }
}
