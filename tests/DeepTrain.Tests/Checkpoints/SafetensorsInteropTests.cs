using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using DeepTrain.Checkpoints;
using DeepTrain.Tensors;
using Xunit;

namespace DeepTrain.Tests.Checkpoints;

/// <summary>
/// Our files against readers and writers we did not write: a golden file made by
/// tests/golden/make_safetensors.py (standard library only, mimicking safetensors.torch.save_file),
/// PyTorch's <c>safetensors.torch.load_file</c> when installed, and a strict standard-library
/// Python reader that applies safetensors' own validation rules.
/// </summary>
public sealed class SafetensorsInteropTests
{
    private const string GoldenName = "safetensors_small.safetensors";

    /// <summary>The golden tensors, in file order, as make_safetensors.py writes them.</summary>
    private static List<NamedArray> GoldenTensors() =>
    [
        NamedArray.FromInt64("bn1.num_batches_tracked", [7]),
        NamedArray.FromFloat64("stats.loss_history", [0.1, -2.5], 2),
        NamedArray.FromFloat32("bn1.bias", [0.5f, -0.5f], 2),
        NamedArray.FromFloat32("bn1.running_mean", [0.125f, -3f], 2),
        NamedArray.FromFloat32("bn1.running_var", [1f, 0.25f], 2),
        NamedArray.FromFloat32("bn1.weight", [1.5f, 2f], 2),
        NamedArray.FromFloat32("conv1.weight", Enumerable.Range(0, 18).Select(i => (i - 9) * 0.0625f).ToArray(), 2, 1, 3, 3),
        NamedArray.FromFloat32("fc.bias", [0f, -1f, 1e-3f], 3),
        NamedArray.FromInt32("labels", [0, 3, -1, int.MaxValue, int.MinValue], 5),
        new("emb.weight", DType.BFloat16, Shape.Of(4), new byte[] { 0x80, 0x3F, 0x00, 0xC0, 0x20, 0x3E, 0x80, 0x47 }), // 1, -2, 0.15625, 65536
        NamedArray.FromFloat16("head.weight", [(Half)1f, (Half)(-0.5f), Half.MaxValue, (Half)MathF.Pow(2, -14)], 2, 2),
        NamedArray.FromUInt8("mask", [0, 1, 255], 3),
    ];

    private static readonly Dictionary<string, string> GoldenMetadata = new() { ["format"] = "pt" };

    /// <summary>
    /// The golden file in the test output (needs <c>..\golden\**\*.safetensors</c> in the csproj's copy list),
    /// else beside this source file.
    /// </summary>
    private static string GoldenPath([CallerFilePath] string source = "")
    {
        string copied = Path.Combine(AppContext.BaseDirectory, "golden", GoldenName);
        if (File.Exists(copied)) return copied;
        string inSource = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", "golden", GoldenName));
        Assert.True(File.Exists(inSource), $"golden file {GoldenName} is neither in {copied} nor in {inSource}; run tests/golden/make_safetensors.py");
        return inSource;
    }

    [Fact]
    public void ReadsTheGoldenFile()
    {
        string path = GoldenPath();
        var file = Safetensors.Load(path);
        var expected = GoldenTensors();

        Assert.Equal(expected.Select(t => t.Name), file.Names);
        Assert.Equal(GoldenMetadata, file.Metadata);
        foreach (var t in expected)
        {
            Assert.Equal(t.DType, file[t.Name].DType);
            Assert.Equal(t.Shape, file[t.Name].Shape);
            Assert.True(t.Data.Span.SequenceEqual(file.GetBytes(t.Name)), $"golden tensor '{t.Name}' differs");
        }
        Assert.Equal([7L], file.GetInt64("bn1.num_batches_tracked"));
        Assert.Equal([0.125f, -3f], file.GetFloat32("bn1.running_mean"));
        Assert.Equal([1f, -2f, 0.15625f, 65536f], file.ReadAsFloat32("emb.weight"));
        Assert.Equal([1f, -0.5f, 65504f, MathF.Pow(2, -14)], file.ReadAsFloat32("head.weight"));
        file.Expect("conv1.weight", DType.Float32, [2, 1, 3, 3]);
    }

    [Fact]
    public void WritesTheGoldenFileByteForByte()
    {
        using var ms = new MemoryStream();
        SafetensorsWriter.Write(ms, GoldenTensors(), GoldenMetadata);
        Assert.Equal(File.ReadAllBytes(GoldenPath()), ms.ToArray());
    }

    // ------------------------------------------------------------- Python cross-checks

    /// <summary>Prints {name: {dtype, shape, values}} as JSON for the file in argv[1], using safetensors.torch.</summary>
    private const string TorchReader = """
        import json, sys
        import torch
        from safetensors.torch import load_file
        names = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                 torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}
        out = {k: {"dtype": names[t.dtype], "shape": list(t.shape), "values": t.double().flatten().tolist()
                   if t.is_floating_point() else t.flatten().tolist()} for k, t in load_file(sys.argv[1]).items()}
        print(json.dumps(out))
        """;

    /// <summary>
    /// The same output from a strict standard-library reader that applies safetensors' validation:
    /// header starts with '{', offsets sorted, contiguous from 0, sized by dtype × shape, ending at the file's end.
    /// </summary>
    private const string StdlibReader = """
        import json, struct, sys
        raw = open(sys.argv[1], "rb").read()
        (n,) = struct.unpack("<Q", raw[:8])
        assert (8 + n) % 8 == 0, "header not padded to 8"
        text = raw[8:8 + n].decode("utf-8")
        assert text.startswith("{") and text.rstrip(" ").endswith("}"), "header framing"
        header = json.loads(text)
        meta = header.pop("__metadata__", None)
        assert meta is None or all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
        data = raw[8 + n:]
        size = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1}
        code = {"F64": "d", "F32": "f", "F16": "e", "I64": "q", "I32": "i", "U8": "B"}
        out, cursor = {}, 0
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
            b, e = info["data_offsets"]
            count = 1
            for d in info["shape"]:
                count *= d
            assert b == cursor and e - b == count * size[info["dtype"]], f"bad offsets for {name}"
            blob = data[b:e]
            if info["dtype"] == "BF16":
                vals = [struct.unpack("<f", struct.pack("<I", h << 16))[0] for (h,) in struct.iter_unpack("<H", blob)]
            else:
                vals = [v for (v,) in struct.iter_unpack("<" + code[info["dtype"]], blob)]
            out[name] = {"dtype": info["dtype"], "shape": info["shape"], "values": vals}
            cursor = e
        assert cursor == len(data), "trailing bytes"
        print(json.dumps(out))
        """;

    [Fact]
    public void PyTorchSafetensorsLoadsOurFile()
    {
        string? python = FindPython();
        Assert.SkipWhen(python is null, "python3 is not installed");
        var (probe, _) = RunPython(python!, "import torch, safetensors.torch");
        Assert.SkipWhen(probe != 0, "python3 cannot import torch and safetensors (Debian bookworm has no python3-safetensors package)");
        CheckPythonReads(python!, TorchReader);
    }

    [Fact]
    public void StrictStdlibPythonReaderLoadsOurFile()
    {
        string? python = FindPython();
        Assert.SkipWhen(python is null, "python3 is not installed");
        CheckPythonReads(python!, StdlibReader);
    }

    private static void CheckPythonReads(string python, string script)
    {
        using var dir = new TempFolder();
        string path = dir.File("model.safetensors");
        var tensors = GoldenTensors();
        tensors.Add(NamedArray.FromFloat32("layer1.0.conv1.weight", Infrastructure.TestData.Normal(7, 4, 2, 3, 3), 4, 2, 3, 3));
        tensors.Add(NamedArray.FromFloat32("empty", [], 0, 5));
        Safetensors.Save(path, tensors, GoldenMetadata);

        var (rc, stdout) = RunPython(python, script, path);
        Assert.True(rc == 0, $"python reader failed ({rc}):\n{stdout}");
        using var doc = JsonDocument.Parse(stdout);
        var file = Safetensors.Load(path);
        Assert.Equal(tensors.Select(t => t.Name).Order(StringComparer.Ordinal), doc.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var t in tensors)
        {
            var e = doc.RootElement.GetProperty(t.Name);
            Assert.Equal(t.DType.Name(), e.GetProperty("dtype").GetString());
            Assert.Equal(t.Shape.Dims.ToArray(), e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray());
            // Bit-exact: every value widens to double exactly, and Python prints doubles round-trippably.
            double[] ours = t.DType switch
            {
                SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 => Array.ConvertAll(file.ReadAsFloat32(t.Name), x => (double)x),
                SafetensorsDType.F64 => file.GetFloat64(t.Name),
                SafetensorsDType.I64 => Array.ConvertAll(file.GetInt64(t.Name), x => (double)x),
                SafetensorsDType.I32 => Array.ConvertAll(file.GetInt32(t.Name), x => (double)x),
                _ => Array.ConvertAll(file.GetUInt8(t.Name), x => (double)x),
            };
            Assert.Equal(ours, e.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray());
        }
    }

    private static string? FindPython()
    {
        foreach (var p in new[] { "/usr/bin/python3", "/usr/local/bin/python3" })
            if (File.Exists(p)) return p;
        return null;
    }

    private static (int ExitCode, string Output) RunPython(string python, string script, params string[] args)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, p.ExitCode == 0 ? stdout : stdout + stderr.Result);
    }
}
