"""Word lists for the FAQ normaliser (faq/normalize.py): informal Indonesian, helpdesk synonyms, English, stop words.

Written from general knowledge of chat Indonesian and of e-procurement (SPSE/LPSE) vocabulary, not from any
evaluation query. Every value is in the words the FAQ entries themselves use (formal Indonesian), so a message
in slang or in English lands on the same tokens as the entry. Values may hold several words ("kata sandi" is
handled as a phrase; "pw" becomes "password").

- ``PHRASES``: multi-word expressions replaced before splitting into words (longest first).
- ``SLANG``: one informal word or abbreviation -> its formal form ("" drops it).
- ``SYNONYMS``: one domain word -> the word the FAQ uses for the same thing (loanwords, near-synonyms).
- ``ENGLISH``: common helpdesk English -> Indonesian, so English questions reach Indonesian entries.
- ``STOP_WORDS``: function words, question words, greetings and politeness (Indonesian and English), dropped
  after the tables above are applied (matched on the formal form).
"""
from __future__ import annotations

PHRASES: dict[str, str] = {
    "kata sandi": "password",
    "kata kunci": "password",
    "user id": "userid",
    "user name": "userid",
    "username": "userid",
    "log in": "login",
    "sign in": "login",
    "sign up": "daftar",
    "e mail": "email",
    "e-mail": "email",
    "surel": "email",
    "call center": "callcenter",
    "contact center": "callcenter",
    "pusat panggilan": "callcenter",
    "e purchasing": "epurchasing",
    "e-purchasing": "epurchasing",
    "e katalog": "katalog",
    "e-katalog": "katalog",
    "katalog elektronik": "katalog",
    "tanda tangan": "tandatangan",
    "tanda tangan elektronik": "tandatangan sertifikat elektronik",
    "pejabat pembuat komitmen": "ppk",
    "kelompok kerja": "pokja",
    "pejabat pengadaan": "pp pejabat pengadaan",
    "help desk": "helpdesk",
    "customer service": "helpdesk",
    "web site": "situs",
    "non aktif": "nonaktif",
    "not private": "tidak aman",
    "not secure": "tidak aman",
    "tidak aman": "tidak aman",
    "time out": "timeout",
    "terima kasih": "",
    "makasih banyak": "",
    "mohon maaf": "",
    "thank you": "",
    "thanks a lot": "",
    "selamat pagi": "",
    "selamat siang": "",
    "selamat sore": "",
    "selamat malam": "",
    "good morning": "",
    "good afternoon": "",
    "good evening": "",
    "assalamualaikum wr wb": "",
    "assalamualaikum": "",
}

SLANG: dict[str, str] = {
    # pronouns and address
    "sy": "saya", "saya": "saya", "aku": "saya", "gw": "saya", "gue": "saya", "gua": "saya", "ak": "saya",
    "km": "kamu", "lu": "kamu", "lo": "kamu", "anda": "anda", "kmi": "kami", "kt": "kita",
    "pak": "", "bu": "", "bpk": "", "ibu": "", "bapak": "", "mas": "", "mbak": "", "mba": "", "kak": "",
    "gan": "", "min": "", "admin2": "", "om": "", "sis": "", "bro": "",
    # negation
    "tdk": "tidak", "tak": "tidak", "ga": "tidak", "gak": "tidak", "gk": "tidak", "nggak": "tidak",
    "ngga": "tidak", "enggak": "tidak", "engga": "tidak", "g": "tidak", "ndak": "tidak", "nda": "tidak",
    "kagak": "tidak", "ngak": "tidak", "blm": "belum", "blum": "belum", "bkn": "bukan", "jgn": "jangan",
    # question words
    "gmn": "bagaimana", "gmana": "bagaimana", "gimana": "bagaimana", "bgmn": "bagaimana", "gmna": "bagaimana",
    "knp": "kenapa", "napa": "kenapa", "ngapa": "kenapa", "kpn": "kapan", "dmn": "mana", "dimana": "mana",
    "kmn": "mana", "kemana": "mana", "brp": "berapa", "brapa": "berapa", "apaan": "apa", "ap": "apa",
    # conjunctions, prepositions, particles
    "yg": "yang", "utk": "untuk", "untk": "untuk", "buat": "untuk", "bwt": "untuk", "dgn": "dengan",
    "dg": "dengan", "dng": "dengan", "sm": "sama", "ama": "sama", "krn": "karena", "krna": "karena",
    "karna": "karena", "soalnya": "karena", "tp": "tapi", "tpi": "tapi", "jd": "jadi", "jdi": "jadi",
    "dr": "dari", "dri": "dari", "trs": "terus", "trus": "terus", "sdh": "sudah", "udh": "sudah",
    "udah": "sudah", "dah": "sudah", "sudh": "sudah", "bs": "bisa", "bsa": "bisa", "bisa": "bisa",
    "dll": "", "dsb": "", "dst": "", "spt": "seperti", "kyk": "seperti", "kayak": "seperti", "kek": "seperti",
    "kyknya": "sepertinya", "kayaknya": "sepertinya", "klo": "kalau", "kl": "kalau", "kalo": "kalau",
    "lg": "lagi", "lgi": "lagi", "aja": "saja", "aj": "saja", "ajah": "saja", "jg": "juga", "jga": "juga",
    "sj": "saja", "skrg": "sekarang", "skr": "sekarang", "skrang": "sekarang", "td": "tadi", "tdi": "tadi",
    "hrs": "harus", "msh": "masih", "masi": "masih", "pdhl": "padahal", "pdahal": "padahal",
    "emg": "memang", "emang": "memang", "bgt": "banget", "bngt": "banget", "sbg": "sebagai", "tsb": "tersebut",
    "ttg": "tentang", "trhdp": "terhadap", "thd": "terhadap", "pd": "pada", "dlm": "dalam", "dl": "dulu",
    "bbrp": "beberapa", "sblm": "sebelum", "stlh": "setelah", "abis": "habis", "tau": "tahu", "tahu": "tahu",
    "gt": "", "gitu": "", "gini": "", "sih": "", "dong": "", "deh": "", "kok": "", "nih": "", "tuh": "",
    "ya": "", "yah": "", "yaa": "", "yak": "", "lho": "", "loh": "", "kah": "", "pun": "", "nya": "",
    "mksh": "", "makasih": "", "mks": "", "thx": "", "tks": "", "tq": "", "trims": "", "trmksh": "",
    "mhn": "mohon", "pls": "", "plz": "", "please": "", "tlg": "tolong", "tolong": "tolong", "bantu": "bantu",
    "info": "informasi", "infonya": "informasi", "mau": "ingin", "pengen": "ingin", "pgn": "ingin",
    "bikin": "buat", "bkin": "buat", "pake": "pakai", "pakek": "pakai", "dipake": "dipakai",
    "kasi": "beri", "kasih": "beri", "ngasih": "beri", "dapet": "dapat", "dpt": "dapat", "dapt": "dapat",
    "liat": "lihat", "ngeliat": "lihat", "ngecek": "cek", "dicek": "cek", "ngisi": "isi", "nyari": "cari",
    "kirim2": "kirim", "brkali": "berkali", "brp2": "berapa", "sampe": "sampai",
    "smp": "sampai", "ampe": "sampai", "gabisa": "tidak bisa", "gbs": "tidak bisa", "gakbisa": "tidak bisa",
    "ngirim": "kirim", "nerima": "terima", "ilang": "hilang", "kebuka": "terbuka", "ketutup": "tertutup",
    "nyoba": "coba", "dicoba": "coba", "cobain": "coba", "benerin": "perbaiki", "ganti2": "ganti",
    "tgl": "tanggal", "jm": "jam", "hp": "telepon", "telp": "telepon", "tlp": "telepon", "tlpn": "telepon",
    "nelpon": "telepon", "no": "nomor", "nmr": "nomor", "nomer": "nomor", "org": "orang", "dr2": "dari",
        # helpdesk vocabulary
    "pw": "password", "pwd": "password", "pass": "password", "passwd": "password", "sandi": "password",
    "pasword": "password", "paswod": "password", "passwordnya": "password",
    "acc": "akun", "account": "akun", "akunnya": "akun", "login": "login", "masuk2": "login",
    "regis": "daftar", "registrasi": "daftar", "register": "daftar", "registrasinya": "daftar",
    "verif": "verifikasi", "ferifikasi": "verifikasi", "aktivasi": "aktivasi", "reaktivasi": "aktivasi",
    "ol": "online", "onlen": "online", "daring": "online", "dok": "dokumen", "doc": "dokumen", "docs": "dokumen",
    "dokumennya": "dokumen", "file": "berkas", "filenya": "berkas", "fail": "berkas",
    "error": "error", "eror": "error", "err": "error", "errornya": "error", "galat": "error",
    "web": "situs", "website": "situs", "site": "situs", "laman": "situs",
    "internet": "internet", "inet": "internet", "wifi": "jaringan", "sinyal": "jaringan", "koneksi": "koneksi",
    "lemot": "lambat", "lelet": "lambat", "loading": "lambat", "down": "gangguan",
    "notif": "notifikasi", "spam": "spam", "inbox": "masuk", "ss": "tangkapan layar", "screenshot": "tangkapan layar",
    "pjbt": "pejabat", "pengadaan": "pengadaan", "kepala": "kepala", "kadis": "kepala dinas",
    "perusahaan": "perusahaan", "pt": "perusahaan", "cv": "perusahaan", "usaha": "usaha",
    "dirut": "direktur", "dir": "direktur",
}

# Domain synonyms: the word on the left names the same thing as the (formal) word on the right.
SYNONYMS: dict[str, str] = {
    "upload": "unggah", "uploud": "unggah", "aplod": "unggah", "diupload": "unggah", "mengupload": "unggah",
    "ngupload": "unggah", "keupload": "unggah", "terupload": "unggah", "uploadnya": "unggah",
    "download": "unduh", "donlot": "unduh", "didownload": "unduh", "mendownload": "unduh", "ngedownload": "unduh",
    "vendor": "penyedia", "rekanan": "penyedia", "supplier": "penyedia", "provider": "penyedia",
    "lelang": "tender", "pelelangan": "tender", "bidding": "tender", "bid": "penawaran",
    "browser": "peramban", "chrome": "peramban", "firefox": "peramban", "edge": "peramban",
    "peramban": "peramban", "captcha": "captcha",
    "blokir": "nonaktif", "diblokir": "nonaktif", "terblokir": "nonaktif", "diblok": "nonaktif",
    "suspend": "nonaktif", "disuspend": "nonaktif", "nonaktif": "nonaktif",
    "ubah": "ganti", "rubah": "ganti", "merubah": "ganti", "mengubah": "ganti", "diubah": "ganti",
    "perubahan": "ganti", "ganti": "ganti", "mengganti": "ganti", "diganti": "ganti", "penggantian": "ganti",
    "reset": "reset", "direset": "reset", "mereset": "reset", "ngereset": "reset", "resetnya": "reset",
    "syarat": "syarat", "persyaratan": "syarat", "requirement": "syarat", "ketentuan": "syarat",
    "bukti": "bukti", "jadwal": "jadwal", "schedule": "jadwal", "deadline": "batas waktu",
    "tenggat": "batas waktu", "telat": "terlambat", "terlambat": "terlambat",
    "ssl": "sertifikat", "https": "sertifikat", "certificate": "sertifikat",
    "helpdesk": "helpdesk", "cs": "helpdesk", "support": "support",
    "siup": "izin usaha", "tdp": "izin usaha",
    "pemilik": "direktur", "dirut": "direktur", "owner": "direktur",
    "laptop": "komputer", "pc": "komputer", "notebook": "komputer",
    "hilang": "hilang", "lenyap": "hilang",
    "purchasing": "epurchasing",
    "katalog": "katalog", "ekatalog": "katalog",
}

ENGLISH: dict[str, str] = {
    "forgot": "lupa", "forget": "lupa", "forgotten": "lupa", "lost": "hilang", "missing": "hilang",
    "password": "password", "passwords": "password", "account": "akun", "accounts": "akun", "user": "pengguna",
    "register": "daftar", "registration": "daftar", "registering": "daftar", "signup": "daftar",
    "enroll": "daftar", "join": "ikut", "participate": "ikut",
    "change": "ganti", "changing": "ganti", "update": "perbarui", "updating": "perbarui", "replace": "ganti",
    "new": "baru", "old": "lama", "email": "email", "emails": "email", "address": "alamat", "mail": "email",
    "upload": "unggah", "uploading": "unggah", "uploaded": "unggah", "submit": "kirim", "submitting": "kirim",
    "send": "kirim", "sent": "kirim", "receive": "terima", "received": "terima", "arrive": "masuk",
    "offer": "penawaran", "offers": "penawaran", "bid": "penawaran", "bids": "penawaran", "proposal": "penawaran",
    "tender": "tender", "tenders": "tender", "auction": "tender", "procurement": "pengadaan",
    "supplier": "penyedia", "suppliers": "penyedia", "vendor": "penyedia", "vendors": "penyedia",
    "provider": "penyedia", "company": "perusahaan", "business": "usaha", "license": "izin",
    "document": "dokumen", "documents": "dokumen", "file": "berkas", "files": "berkas",
    "verify": "verifikasi", "verification": "verifikasi", "verified": "verifikasi", "approve": "setuju",
    "approved": "setuju", "activate": "aktivasi", "activation": "aktivasi", "active": "aktif",
    "deactivated": "nonaktif", "disabled": "nonaktif", "blocked": "nonaktif", "inactive": "nonaktif",
    "locked": "kunci", "lock": "kunci", "session": "sesi", "expired": "habis", "expire": "habis",
    "error": "error", "errors": "error", "failed": "gagal", "fail": "gagal", "fails": "gagal", "failure": "gagal",
    "cannot": "tidak bisa", "can't": "tidak bisa", "cant": "tidak bisa", "unable": "tidak bisa",
    "not": "tidak", "no": "tidak", "still": "masih", "need": "perlu", "needed": "perlu", "required": "perlu",
    "open": "buka", "opening": "buka", "access": "akses", "accessed": "akses", "slow": "lambat",
    "site": "situs", "website": "situs", "page": "halaman", "display": "tampil", "button": "tombol",
    "certificate": "sertifikat", "connection": "koneksi", "secure": "aman", "private": "aman", "safe": "aman",
    "electronic": "elektronik", "signature": "tandatangan", "sign": "tandatangan",
    "catalog": "katalog", "catalogue": "katalog", "purchase": "epurchasing", "order": "pesanan",
    "payment": "pembayaran", "delivery": "kiriman", "shipping": "kiriman",
    "schedule": "jadwal", "deadline": "batas waktu", "late": "terlambat", "time": "waktu",
    "objection": "sanggah", "appeal": "sanggah", "complaint": "sanggah", "rebuttal": "sanggah",
    "ticket": "tiket", "tickets": "tiket", "status": "status", "answered": "jawab", "reply": "jawab",
    "contact": "hubungi", "call": "telepon", "phone": "telepon", "number": "nomor",
    "hours": "jam", "office": "kantor", "visit": "datang", "directly": "langsung", "direct": "langsung",
    "how": "", "long": "lama", "follow": "tindaklanjut", "followed": "tindaklanjut", "report": "laporan",
    "qualification": "kualifikasi", "requirements": "syarat", "requirement": "syarat", "eligible": "syarat",
    "role": "peran", "roles": "peran", "difference": "beda", "official": "pejabat", "officials": "pejabat",
    "committee": "pokja", "package": "paket", "packages": "paket", "data": "data", "aggregation": "agregasi",
    "browser": "peramban", "broken": "berantakan", "messy": "berantakan", "working": "fungsi", "work": "fungsi",
    "encryption": "enkripsi", "application": "aplikasi", "app": "aplikasi", "download": "unduh",
    "first": "pertama",
}

# Dropped after the tables (compared with the formal form of a word). Negation ("tidak", "belum") and words that
# carry the question ("lupa", "gagal", "baru", "lama") are kept on purpose.
_STOP_TEXT = """
ada adalah adanya agar akan akankah aku amat anda apa apakah apabila atas atau ataukah bagaimana bagaimanakah
bagi bahkan bahwa banget begitu beliau berapa berapakah bersama beri besar bisa boleh buat bukankah cara caranya
dalam dan dapat dari daripada demikian dengan di dia dimana ditanya hai halo hallo harus hanya hendak ia ingin ini
itu jadi jika juga kalau kalian kami kamu kan kapan kapankah karena ke kemudian kenapa kepada ketika kita lagi
lah maaf mana manakah masih mau melainkan memang mengapa menjadi mereka meski misalnya mohon mungkin nanti
oleh pada padahal para pula pun saat saja sama sambil sampai sangat saya se sebab sebagai sebelum sedang
sedangkan sehingga sekali sekarang selama seperti sepertinya serta sesudah setelah sih silakan suatu sudah supaya
tadi tapi telah tentang terhadap tersebut terus tetapi tiap tolong untuk wah yaitu yakni yang
bantu bantuan dibantu membantu bantuannya info informasi menanyakan tanya bertanya pertanyaan
terima kasih halo permisi salam pagi siang sore malam selamat assalamualaikum wassalam wr wb
gimana kok dong deh nih tuh ya yah kah lho loh
a an the of to in on at for from by with about as is are was were be been being am do does did doing have has
had having i me my we our you your he she it its they them their this that these those what which who whom
where when why how can could should would will shall may might must please hi hello dear thanks thank regards
sir madam mr mrs ms and or but if then so than too very just also any some there here
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())
