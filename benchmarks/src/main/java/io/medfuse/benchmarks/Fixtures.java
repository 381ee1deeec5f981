package io.medfuse.benchmarks;

import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

import javax.imageio.ImageIO;

import org.apache.avro.Schema;

import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.registry.UnknownSchemaException;

/** Inputs shared by the benchmarks: noisy lesion-like images (realistic sizes) and requests. */
final class Fixtures {

    private Fixtures() {
    }

    /** A side×side image with a soft-edged lesion and sensor-like noise, encoded as PNG or JPEG. */
    static byte[] image(int side, String mediaType) {
        Random r = new Random(side);
        BufferedImage img = new BufferedImage(side, side, BufferedImage.TYPE_3BYTE_BGR);
        WritableRaster raster = img.getRaster();
        int noise = mediaType.contains("png") ? 6 : 12;
        int[] px = new int[3];
        double c = side / 2.0;
        double radius = side * 0.3;
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++) {
                double d = Math.hypot(x - c, y - c) / radius;
                double w = d < 0.8 ? 1 : d > 1.2 ? 0 : (1.2 - d) / 0.4;
                px[0] = clamp(w * 110 + (1 - w) * 215 + r.nextInt(2 * noise + 1) - noise);
                px[1] = clamp(w * 50 + (1 - w) * 165 + r.nextInt(2 * noise + 1) - noise);
                px[2] = clamp(w * 35 + (1 - w) * 140 + r.nextInt(2 * noise + 1) - noise);
                raster.setPixel(x, y, px);
            }
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(img, mediaType.contains("png") ? "png" : "jpg", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int clamp(double v) {
        return (int) Math.max(0, Math.min(255, v));
    }

    static ImagingRequest request(byte[] image, String mediaType) {
        return ImagingRequest.newBuilder()
                .setRequestId("bench-000001")
                .setRequestedAt(Instant.ofEpochMilli(1_700_000_000_000L))
                .setPatient(Patient.newBuilder().setAgeYears(45.0).setSex("female").build())
                .setClinical(Map.of("localization", "trunk"))
                .setImage(ImagePayload.newBuilder().setMediaType(mediaType).setData(ByteBuffer.wrap(image)).build())
                .build();
    }

    /** A registry in a map: ids from 1, the same schema gets the same id. */
    static final class MemoryRegistry implements SchemaRegistryClient {
        private final Map<Schema, Integer> ids = new ConcurrentHashMap<>();
        private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();

        @Override
        public synchronized int register(String subject, Schema schema) {
            return ids.computeIfAbsent(schema, s -> {
                int id = ids.size() + 1;
                schemas.put(id, s);
                return id;
            });
        }

        @Override
        public int lookup(String subject, Schema schema) {
            return register(subject, schema);
        }

        @Override
        public Schema schemaById(int id) {
            Schema s = schemas.get(id);
            if (s == null) {
                throw new UnknownSchemaException(id, "no schema " + id, 404, 40403);
            }
            return s;
        }
    }
}
