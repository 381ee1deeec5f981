package io.medfuse.model.image;

import java.util.Objects;

/**
 * A parsed DICOM Part 10 object: its transfer syntax and its dataset. Parse once with {@link DicomParser#parse},
 * then read tags from {@link #dataset()} and pixels through {@link ImagePreprocessor}.
 */
public record DicomObject(TransferSyntax transferSyntax, DicomDataset dataset) {

    public DicomObject {
        Objects.requireNonNull(transferSyntax, "transferSyntax");
        Objects.requireNonNull(dataset, "dataset");
    }
}
