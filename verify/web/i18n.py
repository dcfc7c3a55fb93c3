"""Page wording, Indonesian first and English on request (?lang=en). One table, no logic."""

from __future__ import annotations

LANGUAGES = ("id", "en")

TEXT: dict[str, dict[str, str]] = {
    "site": {"id": "Verifikasi Sertifikat", "en": "Certificate Verification"},
    "body": {"id": "Balai Sertifikasi, Kementerian Perdagangan", "en": "Certification Centre, Ministry of Trade"},
    "intro": {"id": "Periksa keaslian dan status sertifikat produk, sertifikat kompetensi, kartu personel, dan sertifikat pelatihan.",
              "en": "Check that a product certificate, certificate of competence, person card or training certificate is genuine and valid."},
    "scan_hint": {"id": "Pindai kode QR pada dokumen dengan kamera ponsel, atau:", "en": "Scan the QR code on the document with a phone camera, or:"},
    "number_label": {"id": "Nomor sertifikat", "en": "Certificate number"},
    "check": {"id": "Periksa", "en": "Check"},
    "upload_label": {"id": "Unggah foto kode QR atau berkas PDF sertifikat", "en": "Upload a photo of the QR code or the certificate PDF"},
    "upload": {"id": "Unggah dan periksa", "en": "Upload and check"},
    "shrink_photo": {"id": "Perkecil foto besar sebelum diunggah (lebih cepat)",
                     "en": "Make a large photo smaller before uploading (faster)"},
    "result": {"id": "Hasil pemeriksaan", "en": "Verification result"},
    "details": {"id": "Rincian pemeriksaan", "en": "Checks made"},
    "printed": {"id": "Data yang tercetak pada dokumen", "en": "What the document shows"},
    "compare": {"id": "Bandingkan dengan dokumen di tangan Anda. Bila berbeda, dokumen itu palsu.",
                "en": "Compare with the document in your hands. If anything differs, that document is not genuine."},
    "again": {"id": "Periksa dokumen lain", "en": "Check another document"},
    "page": {"id": "halaman", "en": "page"},  # a card's page on an uploaded print sheet
    "report_link": {"id": "Laporkan sertifikat yang mencurigakan", "en": "Report a suspicious certificate"},
    "report_title": {"id": "Laporkan sertifikat yang mencurigakan", "en": "Report a suspicious certificate"},
    "report_intro": {"id": "Laporan Anda diteruskan kepada petugas Balai Sertifikasi sebagai pengaduan.",
                     "en": "Your report goes to the Certification Centre's staff as a complaint."},
    "message": {"id": "Apa yang mencurigakan?", "en": "What is suspicious?"},
    "contact": {"id": "Kontak Anda (tidak wajib)", "en": "Your contact (optional)"},
    "send": {"id": "Kirim laporan", "en": "Send report"},
    "thanks": {"id": "Terima kasih. Laporan Anda telah diterima dengan nomor", "en": "Thank you. Your report was received as number"},
    "number": {"id": "Nomor", "en": "Number"},
    "kind": {"id": "Jenis dokumen", "en": "Document"},
    "status_since": {"id": "sejak", "en": "since"},
    "successor": {"id": "Diganti oleh", "en": "Replaced by"},
    "predecessor": {"id": "Menggantikan sertifikat", "en": "Replaces certificate"},
    "reason": {"id": "Alasan", "en": "Reason"},
    "error": {"id": "Permintaan tidak dapat diproses", "en": "The request could not be processed"},
    "language": {"id": "English", "en": "Bahasa Indonesia"},
    "product": {"id": "Sertifikat produk", "en": "Product certificate"},
    "person": {"id": "Sertifikat kompetensi", "en": "Certificate of competence"},
    "training": {"id": "Sertifikat pelatihan", "en": "Training certificate"},
    "host_not_official": {"id": "Kode QR ini mengarah ke alamat yang bukan alamat verifikasi resmi: dokumen ini tidak "
                                "diterbitkan oleh Balai Sertifikasi. Jangan isikan data apa pun di alamat tersebut.",
                          "en": "This QR code points to an address that is not the official verification address: the "
                                "document was not issued by the Certification Centre. Do not enter anything at that address."},
    "letter": {"id": "Surat permohonan maaf", "en": "Apology letter"},  # the service standard (docs/service.md)
}

VERDICT: dict[str, dict[str, tuple[str, str]]] = {
    # verdict -> language -> (headline, explanation)
    "VALID": {"id": ("SAH", "Sertifikat ini asli dan berlaku."), "en": ("VALID", "This certificate is genuine and in force.")},
    "SUSPENDED": {"id": ("DIBEKUKAN", "Sertifikat ini asli tetapi sedang dibekukan: tidak berlaku saat ini."),
                  "en": ("SUSPENDED", "This certificate is genuine but suspended: it is not in force now.")},
    "WITHDRAWN": {"id": ("DICABUT", "Sertifikat ini telah dicabut dan tidak berlaku lagi."),
                  "en": ("WITHDRAWN", "This certificate has been withdrawn and is no longer valid.")},
    "REPLACED": {"id": ("DIGANTI", "Sertifikat ini telah diganti dengan sertifikat baru."),
                 "en": ("REPLACED", "This certificate has been replaced by a new one.")},
    "EXPIRED": {"id": ("KEDALUWARSA", "Masa berlaku sertifikat ini telah habis."),
                "en": ("EXPIRED", "This certificate has expired.")},
    "UNKNOWN": {"id": ("TIDAK TERDAFTAR", "Nomor ini tidak terdaftar di Balai Sertifikasi."),
                "en": ("NOT REGISTERED", "This number is not registered with the Certification Centre.")},
    "INVALID": {"id": ("TIDAK SAH", "Dokumen ini tidak asli atau telah diubah. Jangan dipercaya."),
                "en": ("NOT GENUINE", "This document is not genuine or has been altered. Do not rely on it.")},
    "INDETERMINATE": {"id": ("TIDAK DAPAT DIPERIKSA", "Pemeriksaan belum dapat diselesaikan."),
                      "en": ("COULD NOT BE CHECKED", "The check could not be completed.")},
}

#: Record fields the page may show, per kind, with labels: exactly what the paper prints.
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "product": [("client_name", "Pemegang Sertifikat", "Certificate holder"), ("client_address", "Alamat", "Address"),
                ("product", "Produk", "Product"), ("brand", "Merek", "Brand"), ("type_model", "Tipe / Model", "Type / model"),
                ("standard", "Standar", "Standard"), ("scheme_type", "Skema (tipe)", "Scheme type"),
                ("factory_name", "Pabrik", "Factory"), ("factory_address", "Alamat Pabrik", "Factory address"),
                ("grant_date", "Tanggal Terbit", "Date of issue"), ("expiry_date", "Berlaku Sampai", "Valid until")],
    "person": [("name", "Nama", "Name"), ("scheme_name", "Skema Sertifikasi", "Certification scheme"),
               ("scheme_code", "Kode Skema", "Scheme code"), ("scope", "Ruang Lingkup", "Scope"),
               ("grant_date", "Tanggal Terbit", "Date of issue"), ("expiry_date", "Berlaku Sampai", "Valid until")],
    "training": [("name", "Nama Peserta", "Participant"), ("course", "Bimbingan Teknis", "Course"),
                 ("course_code", "Kode Kegiatan", "Course code"), ("start_date", "Mulai", "From"),
                 ("end_date", "Selesai", "To"), ("hours", "Jam Pelajaran", "Hours"), ("organiser", "Penyelenggara", "Organiser")],
    # apology letters of the service standard (certgen/service/letters.py)
    "letter": [("client", "Kepada", "To"), ("application", "Permohonan", "Application"),
               ("days_late", "Keterlambatan (hari kerja)", "Days late (working days)"),
               ("credit_days", "Kompensasi (hari kerja)", "Credit (working days)"), ("date", "Tanggal", "Date")],
}

#: Claim fields shown when there is no registry record (offline seal check).
CLAIMS = [("holder", "Pemegang / Nama", "Holder"), ("scheme", "Skema / Standar", "Scheme / standard"),
          ("subject", "Keterangan", "Subject"), ("granted", "Tanggal Terbit", "Date of issue"),
          ("expires", "Berlaku Sampai", "Valid until")]


MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


def t(key: str, lang: str) -> str:
    return TEXT[key][lang]


#: What each reason code means, for the public page: the page shows these labels, never a
#: check's detail (which may quote a parser's own message; the JSON report carries it).
REASONS: dict[str, tuple[str, str]] = {
    # reason code -> (Indonesian, English)
    "seal_valid": ("Segel digital asli", "The digital seal is genuine"),
    "seal_malformed": ("Kode QR rusak atau bukan segel yang dapat dibaca", "The code is damaged or not a readable seal"),
    "seal_unsupported_alg": ("Segel memakai algoritma tanda tangan yang tidak dikenal", "The seal uses an unknown signature algorithm"),
    "seal_no_kid": ("Segel tidak menyebut penandatangannya", "The seal does not name its signer"),
    "seal_unknown_signer": ("Segel tidak ditandatangani oleh Balai Sertifikasi", "The seal was not signed by the Certification Centre"),
    "seal_bad_signature": ("Tanda tangan segel tidak cocok: isinya telah diubah", "The seal's signature does not match: its content was changed"),
    "seal_key_revoked": ("Kunci penandatangan segel telah dicabut sebelum penandatanganan", "The seal's signing key was revoked before it signed"),
    "seal_key_not_valid": ("Kunci penandatangan segel tidak berlaku pada waktu penandatanganan", "The seal's signing key was not valid when it signed"),
    "seal_signed_in_future": ("Segel bertanggal di masa depan", "The seal is dated in the future"),
    "seal_bad_claims": ("Isi segel bukan data sertifikat", "The seal's content is not certificate data"),
    "number_valid": ("Format nomor sertifikat benar", "The certificate number is well formed"),
    "number_malformed": ("Nomor sertifikat salah ketik atau tidak sah", "The certificate number is mistyped or not valid"),
    "status_active": ("Sertifikat berlaku menurut registri", "The registry says the certificate is in force"),
    "status_suspended": ("Sertifikat dibekukan menurut registri", "The registry says the certificate is suspended"),
    "status_withdrawn": ("Sertifikat dicabut menurut registri", "The registry says the certificate is withdrawn"),
    "status_replaced": ("Sertifikat diganti menurut registri", "The registry says the certificate was replaced"),
    "status_expired": ("Masa berlaku sertifikat telah habis", "The certificate has expired"),
    "status_not_issued": ("Nomor ini dipesan tetapi sertifikatnya tidak pernah diterbitkan", "This number was reserved but never issued"),
    "not_in_registry": ("Nomor ini tidak ada di registri", "This number is not in the registry"),
    "status_not_checked": ("Status tidak diperiksa: registri tidak tersedia di sini", "Status not checked: no registry here"),
    "registry_unavailable": ("Registri tidak dapat dihubungi saat ini", "The registry cannot be reached now"),
    "seal_matches_registry": ("Segel sama dengan yang tercatat di registri", "The seal is the one the registry recorded"),
    "seal_mismatch": ("Segel berbeda dengan yang tercatat di registri", "The seal differs from the one the registry recorded"),
    "barcode_found": ("Kode QR terbaca", "A QR code was read"),
    "no_barcode": ("Tidak ada kode QR yang terbaca", "No QR code could be read"),
    "not_a_seal": ("Kode QR ini bukan segel sertifikat", "This QR code is not a certificate seal"),
    "image_unreadable": ("Berkas tidak dapat dibaca sebagai gambar (PNG, JPEG, WebP)", "The file cannot be read as an image (PNG, JPEG, WebP)"),
    "image_too_large": ("Gambar terlalu besar", "The image is too large"),
    "pdf_signature_valid": ("Tanda tangan elektronik PDF asli dan dokumen tidak diubah", "The PDF's electronic signature is genuine and the document unchanged"),
    "pdf_unreadable": ("Berkas PDF tidak dapat dibaca", "The PDF file cannot be read"),
    "pdf_not_signed": ("PDF tidak bertanda tangan elektronik", "The PDF carries no electronic signature"),
    "pdf_signature_invalid": ("Tanda tangan elektronik PDF tidak sah", "The PDF's electronic signature is not valid"),
    "pdf_modified_after_signing": ("Dokumen diubah setelah ditandatangani", "The document was changed after it was signed"),
    "pdf_signer_untrusted": ("Penanda tangan PDF tidak disertifikasi oleh Balai Sertifikasi", "The PDF's signer is not certified by the Certification Centre"),
    "pdf_signer_not_in_trust_list": ("Penanda tangan PDF tidak ada dalam daftar tepercaya", "The PDF's signer is not in the trust list"),
    "pdf_signer_revoked": ("Kunci penanda tangan PDF telah dicabut sebelum penandatanganan", "The PDF's signing key was revoked before it signed"),
    "pdf_no_seal": ("PDF bertanda tangan tetapi tanpa segel sertifikat", "The signed PDF carries no certificate seal"),
    "pdf_registered": ("Berkas ini sama dengan yang tercatat di registri", "This file is the one the registry recorded"),
    "pdf_not_registered": ("Berkas ini bukan dokumen yang tercatat di registri", "This file is not the document the registry recorded"),
    "pdf_signing_time_unproven": ("Waktu penandatanganan tidak dapat dibuktikan tanpa registri atau cap waktu",
                                  "The signing time cannot be proven without the registry or a timestamp"),
    "pdf_signing_time_conflict": ("Waktu terbit di registri bertentangan dengan tanda tangan dokumen",
                                  "The registry's issue time contradicts the document's signature"),
    # reasons other branches of this run append (issues 10, 9 and the service standard): labelled
    # here ahead of the merge so that the page never falls back to the generic wording
    "seal_host_not_official": ("Alamat pada kode QR bukan alamat verifikasi resmi", "The code's address is not an official verification address"),
    "card_current": ("Kartu ini adalah edisi terbaru yang tercatat di registri", "This card is the current edition in the registry"),
    "card_superseded": ("Kartu ini telah diganti dengan kartu yang lebih baru", "This card was replaced by a newer one"),
    "card_edition_unknown": ("Edisi kartu ini tidak tercatat di registri", "The registry has no record of this card edition"),
    "card_seal_elsewhere": ("Kode ini milik sertifikat: kartu yang memuat kode ini telah diganti dengan kartu yang lebih baru",
                            "This code is the certificate's: a card showing it was replaced by a newer one"),
    "pdf_too_large": ("Berkas PDF terlalu besar untuk diperiksa", "The PDF is too large to be checked"),
    "pdf_signature_malformed": ("Tanda tangan elektronik PDF cacat", "The PDF's electronic signature is malformed"),
    "pdf_not_evaluated": ("Tanda tangan PDF tidak dapat dievaluasi", "The PDF's signature could not be evaluated"),
    "pdf_timed_out": ("Pemeriksaan PDF melewati batas waktu", "Checking the PDF took too long"),
    "image_too_small": ("Gambar terlalu kecil untuk dibaca", "The image is too small to read"),
    "scan_failed": ("Pembacaan kode QR gagal", "Reading the QR code failed"),
    "check_timed_out": ("Pemeriksaan berkas ini dihentikan karena melewati batas waktu; berkas tidak dinilai",
                        "Checking this file took too long and was stopped; the file was not judged"),
    "check_crashed": ("Pemeriksaan berkas ini gagal dijalankan", "The check of this file could not run"),
    "file_unreadable": ("Berkas tidak dapat dibaca", "The file cannot be read"),
    "status_redeemed": ("Surat asli; kreditnya telah digunakan", "The letter is genuine; its credit has been used"),
    "log_inclusion_proven": ("Catatan sertifikat terbukti ada di log transparansi", "The certificate's record is proven to be in the transparency log"),
    "log_inclusion_failed": ("Catatan sertifikat tidak cocok dengan log transparansi", "The certificate's record does not match the transparency log"),
    "log_checkpoint_untrusted": ("Titik periksa log tidak ditandatangani oleh kunci log", "The log checkpoint is not signed by the log key"),
    "log_not_checkpointed": ("Perubahan terakhir belum masuk titik periksa log", "The latest change is not in a log checkpoint yet"),
    "log_unavailable": ("Log transparansi tidak dapat dihubungi", "The transparency log cannot be reached"),
}

#: Labels by outcome, for a reason that has no label of its own yet.
OUTCOMES: dict[str, tuple[str, str]] = {
    "passed": ("Pemeriksaan berhasil", "Check passed"),
    "failed": ("Pemeriksaan gagal", "Check failed"),
    "indeterminate": ("Pemeriksaan tidak dapat diselesaikan", "Check could not be completed"),
}


def reason_label(reason: str, outcome: str, lang: str) -> str:
    """The public wording of a check's reason (the outcome's wording if it has none)."""
    labels = REASONS.get(reason) or OUTCOMES[outcome]
    return labels[0 if lang == "id" else 1]
