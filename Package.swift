// swift-tools-version: 6.1
import PackageDescription

// No fast-math anywhere: results must be reproducible (see README, "Numerics").
let cFlags: [CSetting] = [
    .headerSearchPath("internal"),
    .define("NDEBUG", .when(configuration: .release)),
    .unsafeFlags(["-O3", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra",
                  "-Wno-unused-parameter"], .when(configuration: .release)),
    .unsafeFlags(["-O1", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"],
                 .when(configuration: .debug)),
]

let package = Package(
    name: "PainFace",
    products: [
        .executable(name: "painface", targets: ["painface"]),
        .library(name: "PainFace", targets: ["PainFace"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "CKernels", path: "CSources/CKernels", cSettings: cFlags,
                linkerSettings: [.linkedLibrary("openblas"), .linkedLibrary("m"),
                                 .linkedLibrary("pthread")]),
        .target(name: "CCodecs", path: "CSources/CCodecs",
                cSettings: [.unsafeFlags(["-O2", "-Wall"])],
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        .target(name: "Kernels", dependencies: ["CKernels"]),
        .target(name: "Weights", dependencies: ["Kernels"]),
        .target(name: "NN", dependencies: ["Kernels", "Weights"]),
        // Hot pixel loops live in Swift here: optimise them in debug builds too, so the
        // test suite (debug) runs the detector on real photographs in seconds.
        .target(name: "Imaging", dependencies: ["CCodecs", "Kernels"],
                swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(name: "Training", dependencies: ["Kernels", "Weights"]),
        .target(name: "PainFace", dependencies: ["NN", "Weights", "Imaging", "Kernels", "Training"]),
        .executableTarget(name: "painface", dependencies: [
            "PainFace", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "TestSupport", dependencies: ["Kernels", "Weights"], path: "Tests/TestSupport"),
        .testTarget(name: "KernelTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "WeightsTests", dependencies: ["Weights", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["NN", "PainFace", "TestSupport", "Imaging"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["PainFace"]),
        .testTarget(name: "TrainingTests", dependencies: ["Kernels", "TestSupport", "Training", "Weights"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "FaceTests", dependencies: ["Imaging", "PainFace", "TestSupport"], exclude: ["Fixtures"]),
    ],
    cLanguageStandard: .gnu17
)
