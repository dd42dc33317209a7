using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using DeepTrain.ExampleService;
using Xunit;

namespace DeepTrain.Serving.Tests;

/// <summary>The example service over real HTTP on the loopback interface.</summary>
public sealed class PredictEndpointTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Pixels(int seed) => Enumerable.Range(0, 64).Select(i => (byte)((i * 31 + seed * 57 + i * i * seed) % 256)).ToArray();

    private static HttpContent Body(byte[] bytes, string type)
    {
        var c = new ByteArrayContent(bytes);
        c.Headers.ContentType = new MediaTypeHeaderValue(type);
        return c;
    }

    private async Task<PredictResponse> Predict(HttpContent content, string query = "")
    {
        using var r = await service.Client.PostAsync("/predict" + query, content, Ct);
        string text = await r.Content.ReadAsStringAsync(Ct);
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{(int)r.StatusCode}: {text}");
        return System.Text.Json.JsonSerializer.Deserialize<PredictResponse>(text, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;
    }

    [Fact]
    public async Task Health_NamesTheModelAndItsInput()
    {
        var h = await service.Client.GetFromJsonAsync<Health>("/health", Ct);
        Assert.Equal(new Health("ok", "resnet20", "8×8 grayscale", 4, "cpu"), h);
    }

    [Fact]
    public async Task PngRawAndJson_AnswerWhatTheSessionComputes()
    {
        var px = Pixels(1);
        var (cls, prob) = service.Expected(px);
        var png = await Predict(Body(TestPng.Encode(8, 8, 1, px), "image/png"), "?k=3");
        var raw = await Predict(Body(px, "application/octet-stream"));
        var json = await Predict(Body(Encoding.UTF8.GetBytes("[" + string.Join(",", px) + "]"), "application/json"));
        foreach (var r in new[] { png, raw, json })
        {
            Assert.Equal(cls, r.Class);
            Assert.Equal(ServiceFixture.Names[cls], r.Name);
            Assert.Equal(prob, r.Probability, 1e-6f);
            Assert.Equal(r.Class, r.TopK[0].Index);
        }
        Assert.Equal(3, png.TopK.Length);
        Assert.Equal(4, raw.TopK.Length);
    }

    [Fact]
    public async Task TwoHundredConcurrentRequests_AreAllAnsweredCorrectly()
    {
        var tasks = Enumerable.Range(0, 200).Select(async i =>
        {
            var px = Pixels(i);
            var r = await Predict(Body(i % 2 == 0 ? TestPng.Encode(8, 8, 1, px) : px, i % 2 == 0 ? "image/png" : "application/octet-stream"));
            var (cls, prob) = service.Expected(px);
            Assert.Equal(cls, r.Class);
            Assert.Equal(prob, r.Probability, 1e-6f);
        });
        await Task.WhenAll(tasks);
    }

    [Theory]
    [InlineData("empty", "empty body; expected one 8×8 grayscale image")]
    [InlineData("raw-size", "63 raw bytes; expected 64")]
    [InlineData("not-png", "not a PNG image (no PNG signature); expected one 8×8 grayscale image as PNG")]
    [InlineData("png-size", "PNG is 9×8 with 1 channel(s); expected one 8×8 grayscale image")]
    [InlineData("png-rgb", "PNG is 8×8 with 3 channel(s); expected one 8×8 grayscale image")]
    [InlineData("png-16bit", "PNG of bit depth 16, colour type 0; expected 8-bit grayscale (type 0) or RGB (type 2)")]
    [InlineData("png-interlaced", "interlaced PNG; expected a non-interlaced image")]
    [InlineData("too-big", "expected at most 4096")]
    [InlineData("json-length", "JSON array of 3 values; expected 64")]
    [InlineData("json-range", "JSON value 1 is 300; expected an integer 0-255")]
    [InlineData("json-broken", "not valid JSON")]
    [InlineData("bad-k", "k is '0'; expected an integer 1 to 4")]
    public async Task BadInput_Gets400SayingWhatWasExpected(string kind, string message)
    {
        var px = Pixels(2);
        var (content, query) = kind switch
        {
            "empty" => (Body([], "application/octet-stream"), ""),
            "raw-size" => (Body(px[..63], "application/octet-stream"), ""),
            "not-png" => (Body(px, "image/png"), ""),
            "png-size" => (Body(TestPng.Encode(9, 8, 1, new byte[72]), "image/png"), ""),
            "png-rgb" => (Body(TestPng.Encode(8, 8, 3, new byte[192]), "image/png"), ""),
            "png-16bit" => (Body(TestPng.Encode(8, 8, 1, px, depth: 16), "image/png"), ""),
            "png-interlaced" => (Body(TestPng.Encode(8, 8, 1, px, interlace: 1), "image/png"), ""),
            "too-big" => (Body(new byte[ServiceFixture.MaxBodyBytes + 1], "application/octet-stream"), ""),
            "json-length" => (Body("[1,2,3]"u8.ToArray(), "application/json"), ""),
            "json-range" => (Body(Encoding.UTF8.GetBytes("[1,300" + string.Concat(Enumerable.Repeat(",0", 62)) + "]"), "application/json"), ""),
            "json-broken" => (Body("[1,2"u8.ToArray(), "application/json"), ""),
            "bad-k" => (Body(px, "application/octet-stream"), "?k=0"),
            _ => throw new ArgumentException(kind),
        };
        using var r = await service.Client.PostAsync("/predict" + query, content, Ct);
        var error = await r.Content.ReadFromJsonAsync<ErrorResponse>(Ct);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains(message, error!.Error);
    }
}
