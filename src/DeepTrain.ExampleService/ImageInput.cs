using System.Text.Json;
using DeepTrain.Inference;

namespace DeepTrain.ExampleService;

/// <summary>
/// Turns a <c>POST /predict</c> body into one sample's pixel bytes, (C, H, W) as the session takes them. By content type:
/// <c>image/png</c> (8-bit grayscale or RGB, the model's size), <c>application/json</c> (an array of C·H·W integers 0–255, or
/// <c>{"pixels": [...]}</c>), anything else: the raw bytes of one image (IDX-style, C·H·W bytes, channel-planar). Every refusal is an
/// <see cref="BadInputException"/> whose message says what was expected.
/// </summary>
internal static class ImageInput
{
    public static byte[] Read(byte[] body, string? contentType, InferenceSession session)
    {
        var shape = session.InputShape;
        int size = session.SampleSize;
        string expected = $"one {Describe(session)} image";
        if (body.Length == 0) throw new BadInputException($"empty body; expected {expected}: a PNG, {size} raw bytes, or a JSON array of {size} integers 0-255");
        string type = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        if (type == "image/png")
        {
            (int c, int h, int w, byte[] px) png;
            try { png = PngDecoder.Decode(body); }
            catch (InvalidDataException e) { throw new BadInputException($"{e.Message}; expected {expected} as PNG"); }
            if (png.c != shape[0] || png.h != shape[1] || png.w != shape[2])
                throw new BadInputException($"PNG is {png.w}×{png.h} with {png.c} channel(s); expected {expected}");
            return png.px;
        }
        if (type == "application/json") return FromJson(body, size, expected);
        if (body.Length != size) throw new BadInputException($"{body.Length} raw bytes; expected {size} ({expected}, one byte per pixel, channel-planar)");
        return body;
    }

    private static byte[] FromJson(byte[] body, int size, string expected)
    {
        JsonElement root;
        try { root = JsonDocument.Parse(body).RootElement; }
        catch (JsonException e) { throw new BadInputException($"not valid JSON ({e.Message}); expected an array of {size} integers 0-255"); }
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("pixels", out var p)) root = p;
        if (root.ValueKind != JsonValueKind.Array) throw new BadInputException($"JSON {root.ValueKind}; expected an array of {size} integers 0-255 ({expected})");
        if (root.GetArrayLength() != size) throw new BadInputException($"JSON array of {root.GetArrayLength()} values; expected {size} ({expected})");
        var px = new byte[size];
        int i = 0;
        foreach (var v in root.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int x) || x is < 0 or > 255)
                throw new BadInputException($"JSON value {i} is {v.GetRawText()}; expected an integer 0-255");
            px[i++] = (byte)x;
        }
        return px;
    }

    public static string Describe(InferenceSession s)
        => s.InputShape.Rank == 3 ? $"{s.InputShape[2]}×{s.InputShape[1]} {(s.InputShape[0] == 1 ? "grayscale" : s.InputShape[0] == 3 ? "RGB" : $"{s.InputShape[0]}-channel")}" : $"{s.SampleSize}-value";
}
