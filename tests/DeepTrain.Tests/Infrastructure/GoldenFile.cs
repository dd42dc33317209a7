using System.Text.Json;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// One golden case written by a script in tests/golden (make_ops.py, make_resnet20.py): <c>&lt;case&gt;.json</c>
/// names each tensor with its shape, dtype ("float32" or "int32") and byte offset into <c>&lt;case&gt;.bin</c>,
/// which holds the tensors concatenated as little-endian values; "attrs" holds the case's settings.
/// The test project copies tests/golden/** next to the test binary, under golden/.
/// </summary>
public sealed class GoldenFile
{
    private readonly byte[] _data;
    private readonly Dictionary<string, (Shape Shape, string DType, int Offset)> _tensors = [];

    private GoldenFile(string path, JsonDocument json, byte[] data)
    {
        Path = path;
        Json = json.RootElement;
        _data = data;
        foreach (var t in Json.GetProperty("tensors").EnumerateObject())
        {
            var dims = t.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            _tensors[t.Name] = (new Shape(dims), t.Value.GetProperty("dtype").GetString()!, t.Value.GetProperty("offset").GetInt32());
        }
    }

    /// <summary>The case's files without extension, for messages.</summary>
    public string Path { get; }
    /// <summary>The whole JSON document.</summary>
    public JsonElement Json { get; }
    /// <summary>The case's settings ("attrs"), e.g. stride_h, groups, mode.</summary>
    public JsonElement Attrs => Json.GetProperty("attrs");
    /// <summary>The tensors' names in file order.</summary>
    public IEnumerable<string> Names => _tensors.Keys;

    /// <summary>Reads golden/<paramref name="folder"/>/<paramref name="name"/>.json and .bin from beside the test binary.</summary>
    /// <exception cref="FileNotFoundException">The files are missing: regenerate them with the scripts in tests/golden.</exception>
    public static GoldenFile Load(string folder, string name)
    {
        string stem = System.IO.Path.Combine(AppContext.BaseDirectory, "golden", folder, name);
        if (!File.Exists(stem + ".json") || !File.Exists(stem + ".bin"))
            throw new FileNotFoundException($"golden case {folder}/{name} is missing next to the test binary ({stem}.json/.bin); see tests/golden/README.md");
        return new GoldenFile(stem, JsonDocument.Parse(File.ReadAllBytes(stem + ".json")), File.ReadAllBytes(stem + ".bin"));
    }

    /// <summary>Whether the case stores tensor <paramref name="name"/>.</summary>
    public bool Has(string name) => _tensors.ContainsKey(name);

    /// <summary>The shape of tensor <paramref name="name"/>.</summary>
    public Shape ShapeOf(string name) => Entry(name).Shape;

    /// <summary>A float32 tensor's values, row-major (logical (N, C, H, W) order).</summary>
    public float[] F(string name) => Read<float>(name, "float32");

    /// <summary>A float32 tensor's values widened to double (the expectation side of <see cref="Tolerance.AssertClose(ReadOnlySpan{double}, ReadOnlySpan{float}, double, double, string)"/>).</summary>
    public double[] D(string name) => F(name).ToDouble();

    /// <summary>An int32 tensor's values.</summary>
    public int[] I(string name) => Read<int>(name, "int32");

    /// <summary>An integer setting.</summary>
    public int Int(string attr) => Attrs.GetProperty(attr).GetInt32();
    /// <summary>A real setting.</summary>
    public double Real(string attr) => Attrs.GetProperty(attr).GetDouble();
    /// <summary>A boolean setting.</summary>
    public bool Bool(string attr) => Attrs.GetProperty(attr).GetBoolean();
    /// <summary>A string setting.</summary>
    public string Str(string attr) => Attrs.GetProperty(attr).GetString()!;

    private (Shape Shape, string DType, int Offset) Entry(string name)
        => _tensors.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor '{name}' (has {string.Join(", ", _tensors.Keys)})");

    private T[] Read<T>(string name, string dtype) where T : unmanaged
    {
        var (shape, dt, offset) = Entry(name);
        if (dt != dtype) throw new InvalidOperationException($"{Path}: tensor '{name}' is {dt}, not {dtype}");
        int bytes = checked((int)shape.Elements * 4);
        if (offset + bytes > _data.Length) throw new InvalidDataException($"{Path}: tensor '{name}' ({shape} at byte {offset}) runs past the end of the .bin ({_data.Length} bytes)");
        var result = new T[shape.Elements];
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("golden files are little-endian");
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(_data.AsSpan(offset, bytes)).CopyTo(result);
        return result;
    }
}
