using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using DeepTrain.Checkpoints;
using DeepTrain.Tensors;
using Xunit;

namespace DeepTrain.Tests.Checkpoints;

/// <summary>Writing safetensors: round trips, the exact byte layout, argument checks and atomic saves.</summary>
public sealed class SafetensorsTests
{
    private static List<NamedArray> SmallModel() =>
    [
        NamedArray.FromFloat32("conv1.weight", Enumerable.Range(0, 2 * 3 * 3 * 3).Select(i => i * 0.5f - 7f).ToArray(), 2, 3, 3, 3),
        NamedArray.FromFloat32("layer1.0.bn1.running_mean", [0.25f, -1.5f], 2),
        NamedArray.FromInt64("layer1.0.bn1.num_batches_tracked", [123_456_789_012L]),
        NamedArray.FromFloat16("head.weight", [(Half)1.5f, (Half)(-0.25f), Half.MaxValue], 3),
        NamedArray.FromInt32("labels", [3, -1, int.MaxValue, int.MinValue], 2, 2),
        NamedArray.FromFloat64("stats.loss", [0.1, double.Epsilon, -1e300], 3),
        NamedArray.FromUInt8("mask", [0, 7, 255], 3),
        new NamedArray("emb.weight", DType.BFloat16, Shape.Of(2), new byte[] { 0x80, 0x3F, 0x00, 0xC0 }), // 1.0, -2.0
        NamedArray.FromFloat32("empty", [], 0, 3),
    ];

    [Fact]
    public void RoundTripKeepsEveryTensorAndTheMetadata()
    {
        using var dir = new TempFolder();
        string path = dir.File("model.safetensors");
        var tensors = SmallModel();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "12", ["note"] = "ünïcode \"quoted\"\n" };

        Safetensors.Save(path, tensors, metadata);
        var file = Safetensors.Load(path);

        Assert.Equal(path, file.Path);
        Assert.Equal(tensors.Select(t => t.Name), file.Names); // data order is the order given
        Assert.Equal(metadata.OrderBy(kv => kv.Key), file.Metadata.OrderBy(kv => kv.Key));
        foreach (var t in tensors)
        {
            var info = file[t.Name];
            Assert.Equal(t.DType, info.DType);
            Assert.Equal(t.Shape, info.Shape);
            Assert.True(t.Data.Span.SequenceEqual(file.GetBytes(t.Name)), $"bytes of '{t.Name}' differ");
        }
        Assert.Equal(tensors[0].Data.ToArray(), LittleEndianBytes(file.GetFloat32("conv1.weight")));
        Assert.Equal([123_456_789_012L], file.GetInt64("layer1.0.bn1.num_batches_tracked"));
        Assert.Equal(0, file["layer1.0.bn1.num_batches_tracked"].Shape.Rank);
        Assert.Equal([(Half)1.5f, (Half)(-0.25f), Half.MaxValue], file.GetFloat16("head.weight"));
        Assert.Equal([3, -1, int.MaxValue, int.MinValue], file.GetInt32("labels"));
        Assert.Equal([0.1, double.Epsilon, -1e300], file.GetFloat64("stats.loss"));
        Assert.Equal([0, 7, 255], file.GetUInt8("mask"));
        Assert.Equal([1f, -2f], file.ReadAsFloat32("emb.weight"));
        Assert.Equal([1.5f, -0.25f, 65504f], file.ReadAsFloat32("head.weight"));
        Assert.Empty(file.GetFloat32("empty"));
        Assert.Equal(Shape.Of(0, 3), file["empty"].Shape);
    }

    [Fact]
    public void NoTensorsAndNoMetadataIsAValidFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("empty.safetensors");
        Safetensors.Save(path, []);
        Assert.Equal("\u0008\0\0\0\0\0\0\0{}      ", Encoding.ASCII.GetString(File.ReadAllBytes(path)));
        var file = Safetensors.Load(path);
        Assert.Empty(file);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void TinyFileIsByteExact()
    {
        using var dir = new TempFolder();
        string path = dir.File("tiny.safetensors");
        Safetensors.Save(path, [NamedArray.FromFloat32("a", [1f, -2f], 2)]);

        // JSON: {"a": 5 + {"dtype":"F32", 15 + "shape":[2], 12 + "data_offsets":[0,8] 20 + }} 2 = 54 bytes,
        // padded with 2 spaces to 56 = 0x38 so the data starts at byte 64. 1.0f = 0x3F800000, -2.0f = 0xC0000000.
        byte[] expected =
        [
            0x38, 0, 0, 0, 0, 0, 0, 0,
            .. "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  "u8,
            0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0,
        ];
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void MetadataComesFirstInOrdinalKeyOrder()
    {
        using var dir = new TempFolder();
        string path = dir.File("meta.safetensors");
        Safetensors.Save(path, [NamedArray.FromUInt8("m", [9])], new Dictionary<string, string> { ["z"] = "1", ["a"] = "2" });
        byte[] bytes = File.ReadAllBytes(path);
        string header = Encoding.UTF8.GetString(bytes.AsSpan(8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes)));
        Assert.Equal("{\"__metadata__\":{\"a\":\"2\",\"z\":\"1\"},\"m\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", header.TrimEnd(' '));
    }

    [Fact]
    public void HeaderIsPaddedWithSpacesSoDataStartsAligned()
    {
        using var dir = new TempFolder();
        for (int len = 1; len <= 24; len++)
        {
            string path = dir.File($"align{len}.safetensors");
            string name = new('w', len);
            Safetensors.Save(path, [NamedArray.FromFloat32(name, [1f, 2f, 3f], 3)]);
            byte[] bytes = File.ReadAllBytes(path);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.True(n % 8 == 0, $"name length {len}: header length {n} is not a multiple of 8");
            Assert.Equal(8 + (long)n + 12, bytes.Length);
            var header = bytes.AsSpan(8, (int)n);
            int close = header.LastIndexOf((byte)'}');
            Assert.True(header[(close + 1)..].IndexOfAnyExcept((byte)' ') < 0, $"name length {len}: padding is not all spaces");
            Assert.True(n - (ulong)close - 1 < 8, $"name length {len}: {n - (ulong)close - 1} bytes of padding");
            Assert.Equal([1f, 2f, 3f], Safetensors.Load(path).GetFloat32(name));
        }
    }

    [Fact]
    public void DuplicateNamesAreRejectedBeforeAnyFileIsWritten()
    {
        using var dir = new TempFolder();
        var e = Assert.Throws<ArgumentException>(() => Safetensors.Save(dir.File("dup.safetensors"),
            [NamedArray.FromFloat32("fc.bias", [1f], 1), NamedArray.FromFloat32("fc.weight", [1f], 1, 1), NamedArray.FromFloat32("fc.bias", [2f], 1)]));
        Assert.Contains("'fc.bias'", e.Message);
        Assert.Empty(dir.Files());
    }

    [Fact]
    public void EmptyAndReservedNamesAreRejected()
    {
        var empty = Assert.Throws<ArgumentException>(() => NamedArray.FromFloat32("", [1f], 1));
        Assert.Contains("empty", empty.Message);
        var reserved = Assert.Throws<ArgumentException>(() => NamedArray.FromFloat32("__metadata__", [1f], 1));
        Assert.Contains("'__metadata__'", reserved.Message);
    }

    [Fact]
    public void DataThatDoesNotFitTheShapeIsRejectedNamingTheTensor()
    {
        var e = Assert.Throws<ArgumentException>(() => NamedArray.FromFloat32("layer1.0.conv1.weight", new float[5], 2, 3));
        Assert.Contains("'layer1.0.conv1.weight'", e.Message);
        Assert.Contains("needs 24", e.Message);
        var neg = Assert.Throws<ArgumentException>(() => NamedArray.FromInt32("idx", [], -1));
        Assert.Contains("'idx'", neg.Message);
        Assert.Throws<ArgumentException>(() => new NamedArray("raw", SafetensorsDType.I64, Shape.Of(2), new byte[15]));
    }

    [Fact]
    public void NullMetadataValueIsRejected()
    {
        using var dir = new TempFolder();
        var e = Assert.Throws<ArgumentException>(() => Safetensors.Save(dir.File("m.safetensors"), [NamedArray.FromUInt8("m", [1])], new Dictionary<string, string> { ["k"] = null! }));
        Assert.Contains("'k'", e.Message);
        Assert.Empty(dir.Files());
    }

    [Fact]
    public void FailureMidWriteLeavesNoFileAndNoTempFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("model.safetensors");
        var tensors = new List<NamedArray>
        {
            NamedArray.FromFloat32("a", new float[4096], 4096),
            new("b", SafetensorsDType.U8, Shape.Of(16), new FailingMemory(16, () => throw new IOException("simulated disk full")).Memory),
        };
        var e = Assert.Throws<IOException>(() => Safetensors.Save(path, tensors));
        Assert.Equal("simulated disk full", e.Message);
        Assert.Empty(dir.Files());
    }

    [Fact]
    public void FailureMidWriteKeepsTheOldCheckpointWhole()
    {
        using var dir = new TempFolder();
        string path = dir.File("model.safetensors");
        Safetensors.Save(path, [NamedArray.FromFloat32("old", [1f, 2f], 2)]);
        byte[] before = File.ReadAllBytes(path);

        Assert.Throws<IOException>(() => Safetensors.Save(path,
            [NamedArray.FromFloat32("new", new float[1000], 1000), new("bad", SafetensorsDType.U8, Shape.Of(4), new FailingMemory(4, () => throw new IOException("simulated")).Memory)]));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], dir.Files());
    }

    [Fact]
    public void FolderThatDisappearsMidWriteLeavesNothing()
    {
        using var dir = new TempFolder();
        string sub = Path.Combine(dir.Path, "run1");
        Directory.CreateDirectory(sub);
        string path = Path.Combine(sub, "model.safetensors");
        var vanish = new FailingMemory(8, () => Directory.Delete(sub, recursive: true));
        Assert.ThrowsAny<IOException>(() => Safetensors.Save(path, [NamedArray.FromFloat32("a", [1f], 1), new("b", SafetensorsDType.U8, Shape.Of(8), vanish.Memory)]));
        Assert.False(Directory.Exists(sub));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void MissingFolderFailsWithoutCreatingAnything()
    {
        using var dir = new TempFolder();
        string path = Path.Combine(dir.Path, "no-such-folder", "model.safetensors");
        Assert.Throws<DirectoryNotFoundException>(() => Safetensors.Save(path, [NamedArray.FromFloat32("a", [1f], 1)]));
        Assert.Empty(dir.Files());
        Assert.Empty(Directory.GetDirectories(dir.Path));
    }

    [Fact]
    public void DestinationThatIsAFolderFailsAndRemovesTheTempFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("model.safetensors");
        Directory.CreateDirectory(path);
        Assert.ThrowsAny<IOException>(() => Safetensors.Save(path, [NamedArray.FromFloat32("a", [1f], 1)]));
        Assert.Empty(dir.Files());
    }

    [Fact]
    public void OverwritingReplacesTheWholeCheckpoint()
    {
        using var dir = new TempFolder();
        string path = dir.File("model.safetensors");
        Safetensors.Save(path, SmallModel(), new Dictionary<string, string> { ["epoch"] = "1" });
        long bigLength = new FileInfo(path).Length;

        Safetensors.Save(path, [NamedArray.FromInt32("only", [42])]);

        var file = Safetensors.Load(path);
        Assert.Equal(["only"], file.Names);
        Assert.Empty(file.Metadata);
        Assert.Equal([42], file.GetInt32("only"));
        Assert.True(new FileInfo(path).Length < bigLength);
        Assert.Equal(["model.safetensors"], dir.Files());
    }

    [Fact]
    public void WriterToStreamMatchesSave()
    {
        using var dir = new TempFolder();
        string path = dir.File("model.safetensors");
        var tensors = SmallModel();
        Safetensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using var ms = new MemoryStream();
        SafetensorsWriter.Write(ms, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Equal(File.ReadAllBytes(path), ms.ToArray());
    }

    [Fact]
    public void ExpectAcceptsAMatchAndNamesEveryMismatch()
    {
        using var dir = new TempFolder();
        string path = dir.File("model.safetensors");
        Safetensors.Save(path,
        [
            NamedArray.FromFloat32("layer1.0.conv1.weight", new float[16 * 16 * 9], 16, 16, 3, 3),
            NamedArray.FromInt64("layer1.0.bn1.num_batches_tracked", [5]),
        ]);
        var file = Safetensors.Load(path);

        Assert.Equal(16 * 16 * 9, file.Expect("layer1.0.conv1.weight", DType.Float32, [16, 16, 3, 3]).Elements);
        Assert.Equal(0, file.Expect("layer1.0.bn1.num_batches_tracked", SafetensorsDType.I64).Shape.Rank);

        var shape = Assert.Throws<CheckpointMismatchException>(() => file.Expect("layer1.0.conv1.weight", DType.Float32, [32, 16, 3, 3]));
        Assert.Equal($"checkpoint '{path}': tensor 'layer1.0.conv1.weight' has shape (16, 16, 3, 3), expected (32, 16, 3, 3)", shape.Message);
        Assert.Equal("layer1.0.conv1.weight", shape.TensorName);
        Assert.Equal(path, shape.Path);

        var dtype = Assert.Throws<CheckpointMismatchException>(() => file.Expect("layer1.0.conv1.weight", DType.Float16, [16, 16, 3, 3]));
        Assert.Equal($"checkpoint '{path}': tensor 'layer1.0.conv1.weight' has dtype F32, expected F16", dtype.Message);

        var both = Assert.Throws<CheckpointMismatchException>(() => file.Expect("layer1.0.bn1.num_batches_tracked", SafetensorsDType.F32, 1));
        Assert.Equal($"checkpoint '{path}': tensor 'layer1.0.bn1.num_batches_tracked' has dtype I64 and shape (), expected F32 and (1,)", both.Message);

        var missing = Assert.Throws<CheckpointMismatchException>(() => file.Expect("fc.bias", DType.Float32, [10]));
        Assert.Equal($"checkpoint '{path}' has no tensor 'fc.bias'", missing.Message);
        Assert.Equal("fc.bias", missing.TensorName);

        var typed = Assert.Throws<CheckpointMismatchException>(() => file.GetFloat32("layer1.0.bn1.num_batches_tracked"));
        Assert.Contains("has dtype I64, expected F32", typed.Message);
        Assert.Throws<CheckpointMismatchException>(() => file.GetBytes("fc.bias"));
        Assert.Throws<CheckpointMismatchException>(() => file.ReadAsFloat32("layer1.0.bn1.num_batches_tracked"));
        var key = Assert.Throws<KeyNotFoundException>(() => file["fc.bias"]);
        Assert.Contains("'fc.bias'", key.Message);
        Assert.False(file.ContainsKey("fc.bias"));
        Assert.True(file.TryGetValue("layer1.0.conv1.weight", out var info) && info.ByteLength == 16 * 16 * 9 * 4);
    }

    private static byte[] LittleEndianBytes(float[] values)
    {
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), values[i]);
        return b;
    }

    /// <summary>Memory whose span runs <paramref name="onRead"/> when the writer asks for it: a failure in the middle of a save.</summary>
    private sealed class FailingMemory(int length, Action onRead) : MemoryManager<byte>
    {
        private readonly byte[] _bytes = new byte[length];

        // The base getter asks GetSpan for the length; the failure must wait for the writer.
        public override Memory<byte> Memory => CreateMemory(length);

        public override Span<byte> GetSpan()
        {
            onRead();
            return _bytes;
        }

        public override MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();
        public override void Unpin() { }
        protected override void Dispose(bool disposing) { }
    }
}
