using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.ExampleService;
using DeepTrain.Inference;
using DeepTrain.Modeling;
using DeepTrain.Training;
using DeepTrain.Zoo;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace DeepTrain.Serving.Tests;

/// <summary>
/// The example service on Kestrel at 127.0.0.1 (a free port), serving a seeded ResNet-20 (1×8×8 in, 4 named classes) from a
/// checkpoint; and a reference session on the same checkpoint for the expected answers.
/// </summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    public static readonly string[] Names = ["zero", "one", "two", "three"];
    public const int MaxBodyBytes = 4096;
    private WebApplication? _app;
    public HttpClient Client { get; private set; } = null!;
    public InferenceSession Reference { get; private set; } = null!;
    public string Checkpoint { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        string dir = Directory.CreateTempSubdirectory("deeptrain-serving-").FullName;
        Checkpoint = Path.Combine(dir, "model.safetensors");
        using (var b = new CpuBackend())
        using (var m = new Model(ModelZoo.Create(new ModelSpec("resnet20", 1, 4, 8)), b, seed: 3))
            ModelCheckpoint.Save(m, Checkpoint, description: new CheckpointDescription(new Normalization([0.4f], [0.3f]), Names));
        Reference = InferenceSession.Load(Checkpoint, new InferenceSessionOptions { MaxBatchSize = 1 });
        _app = ExampleServiceApp.Build([$"--DeepTrain:Checkpoint={Checkpoint}", $"--DeepTrain:MaxBodyBytes={MaxBodyBytes}", "--urls=http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Client = new HttpClient { BaseAddress = new Uri(address) };
    }

    /// <summary>What the service should answer for these pixels: the reference session's softmax, best first.</summary>
    public (int Class, float Probability) Expected(byte[] pixels)
    {
        var x = new float[Reference.SampleSize];
        Reference.Normalize(pixels, x);
        var p = Reference.Predict(x, topK: 4)[0];
        return (p.Best.Index, p.Best.Probability);
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (_app is not null) await _app.DisposeAsync();
        Reference?.Dispose();
    }
}
