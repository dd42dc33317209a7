using System.Buffers.Binary;
using System.Text;
using DeepTrain.Checkpoints;
using Xunit;

namespace DeepTrain.Tests.Checkpoints;

/// <summary>
/// Every way a file can be broken gives a <see cref="CheckpointFormatException"/> that names the file,
/// the byte offset and what was expected. Files are built by hand: length, JSON, data.
/// </summary>
public sealed class SafetensorsCorruptionTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes [u64 length][json][data]; the length is the JSON's unless <paramref name="length"/> overrides it.</summary>
    private string Write(string json, int dataBytes, ulong? length = null, string name = "broken.safetensors")
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        string path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static CheckpointFormatException Fails(string path, long offset, string expectedText)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => Safetensors.Load(path));
        Assert.Equal(path, e.Path);
        Assert.Contains($"checkpoint '{path}'", e.Message);
        Assert.Contains(Path.GetFileName(path), e.Message);
        Assert.True(e.Message.Contains($"at byte {offset},", StringComparison.Ordinal), $"expected offset {offset}: {e.Message}");
        Assert.Equal(offset, e.Offset);
        Assert.True(e.Message.Contains(expectedText, StringComparison.Ordinal), $"expected \"{expectedText}\" in: {e.Message}");
        return e;
    }

    private const string A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    [Fact]
    public void ValidBaselineLoads()
    {
        var file = Safetensors.Load(Write("{" + A + "}", 8));
        Assert.Equal(["a"], file.Names);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(7)]
    public void FileShorterThanTheLengthField(int bytes)
    {
        string path = _dir.File("short.safetensors");
        File.WriteAllBytes(path, new byte[bytes]);
        Fails(path, 0, $"the file is {bytes} bytes, shorter than the 8-byte header length");
    }

    [Fact]
    public void HeaderLengthBeyondTheFile()
        => Fails(Write("{" + A + "}", 8, length: 1000), 0, "the header length is 1000 bytes, but only 62 bytes follow");

    [Fact]
    public void HeaderLengthWithTheTopBitSet()
        => Fails(Write("{}", 0, length: ulong.MaxValue), 0, $"the header length is {ulong.MaxValue} bytes");

    [Fact]
    public void TruncatedJson()
    {
        // System.Text.Json places the error at the last token it read, the ',' at header byte 19.
        var e = Fails(Write("{\"a\":{\"dtype\":\"F32\",", 0), 8 + 19, "the header is not valid JSON");
        Assert.IsAssignableFrom<System.Text.Json.JsonException>(e.InnerException);
    }

    [Fact]
    public void JsonWithAStrayCharacter()
        => Fails(Write("{\"a\":{\"dtype\":\"F32\";}}", 0), 8 + 19, "the header is not valid JSON");

    [Fact]
    public void HeaderThatIsNotAnObject()
        => Fails(Write("[1,2,3] ", 0), 8, "expected the JSON header to start with '{'");

    [Fact]
    public void GarbageAfterTheObject()
        => Fails(Write("{" + A + "}  x     ", 8), 8 + A.Length + 4, "not valid JSON");

    [Fact]
    public void InvalidUtf8InAName()
    {
        string path = _dir.File("utf8.safetensors");
        byte[] json = [.. "{\""u8, 0xC3, 0x28, .. "\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}"u8];
        var bytes = new byte[8 + json.Length + 1];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => Safetensors.Load(path));
        Assert.Contains("utf8.safetensors", e.Message);
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void UnknownDtype()
        => Fails(Write("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2), 8 + 14,
            "tensor 'a' has unknown dtype 'F8_E4M3'; expected one of F64, F32, F16, BF16, I64, I32, U8");

    [Fact]
    public void DtypeIsCaseSensitive()
        => Fails(Write("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), 8 + 14, "unknown dtype 'f32'");

    [Fact]
    public void NegativeDimension()
        => Fails(Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), 8 + 29, "tensor 'a' has a shape element that is not a non-negative integer");

    [Fact]
    public void MissingField()
        => Fails(Write("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), 8 + 1, "tensor 'a' has no 'shape'");

    [Fact]
    public void ThreeDataOffsets()
        => Fails(Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8), 8 + 47, "tensor 'a' has 3 data_offsets; expected [begin, end]");

    [Fact]
    public void DuplicateTensorName()
        => Fails(Write("{" + A + "," + A + "}", 8), 8 + 1 + A.Length + 1, "key 'a' appears twice");

    [Fact]
    public void MetadataValueThatIsNotAString()
        => Fails(Write("{\"__metadata__\":{\"epoch\":3}}", 0), 8 + 25, "metadata value for 'epoch' is Number; expected a string");

    [Fact]
    public void ShapeAndOffsetsDisagree()
        => Fails(Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), 8 + 1,
            "tensor 'a' (F32, shape (3,)) needs 12 bytes, but its data_offsets [0, 8] span 8");

    [Fact]
    public void EndBeforeBegin()
        => Fails(Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8), 8 + 1, "tensor 'a' has data_offsets [8, 0]; expected end ≥ begin");

    [Fact]
    public void OffsetsOutsideTheData()
    {
        string json = "{" + A + "}   ";
        Fails(Write(json, 4), 8 + 1, $"tensor 'a' has data_offsets [0, 8], outside the data, which is 4 bytes (file bytes {8 + json.Length} to {8 + json.Length + 4})");
    }

    [Fact]
    public void OverlappingTensors()
    {
        string json = "{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        Fails(Write(json, 12), 8 + json.Length + 4, "tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a', which ends at data offset 8; expected it to begin at 8");
    }

    [Fact]
    public void GapBetweenTensors()
    {
        string json = "{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}";
        Fails(Write(json, 20), 8 + json.Length + 8, "4 unused bytes before tensor 'b' (data_offsets [12, 20]); expected it to begin at data offset 8, where 'a' ends");
    }

    [Fact]
    public void GapBeforeTheFirstTensor()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        Fails(Write(json, 12), 8 + json.Length, "4 unused bytes before tensor 'a' (data_offsets [4, 12]); expected it to begin at data offset 0,");
    }

    [Fact]
    public void BytesAfterTheLastTensor()
    {
        string json = "{" + A + "}";
        Fails(Write(json, 12), 8 + json.Length + 8, "4 bytes follow the last tensor");
    }

    [Fact]
    public void HeaderOrderNeedNotBeDataOrder()
    {
        // The format sorts by offset; a writer may list entries in any order.
        string json = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,9]}," + A + "}";
        var file = Safetensors.Load(Write(json, 9));
        Assert.Equal(["a", "b"], file.Names);
    }

    [Fact]
    public void UnknownFieldsAreIgnored()
    {
        var file = Safetensors.Load(Write("{\"a\":{\"dtype\":\"U8\",\"extra\":{\"x\":[1,2]},\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
        Assert.Equal(["a"], file.Names);
    }
}
