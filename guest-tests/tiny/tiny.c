/*
 * The tiny guest: a few thousand instructions that exercise Hull's exits
 * where a full kernel would be too slow (KVM-PVM emulates guest CPL0).  It
 * reads its job from the kernel command line and reports on COM1:
 *   (default)  port I/O, MMIO to an unclaimed address, then ACPI power-off
 *   triple     a triple fault (null IDT, then int3)
 *   reset      a CPU reset through the i8042 (0xfe to port 0x64)
 *   echo       reads a line from the serial port and prints it; the line
 *              "reset" resets the CPU (so each boot asks again), any other
 *              powers off
 *   hang       halts with interrupts off until the VMM is stopped
 */
#include <stdint.h>

#define COM1		0x3f8
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define PM1A_CNT	0x604
#define SLP_TYP_S5	(5 << 10)
#define SLP_EN		(1 << 13)
#define UNCLAIMED_MMIO	0xd0000000UL

void	tiny_main(const uint8_t *bp);

static inline void
outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void
outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t
inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void
putc_(char c)
{
	while (!(inb(COM1 + 5) & LSR_THRE))
		;
	outb(COM1, (uint8_t)c);
}

static void
puts_(const char *s)
{
	while (*s != '\0') {
		if (*s == '\n')
			putc_('\r');
		putc_(*s++);
	}
}

static void
puthex(uint64_t v)
{
	int i;

	puts_("0x");
	for (i = 60; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 0xf]);
}

static int
has_word(const char *s, const char *w)
{
	const char *p, *q;

	for (p = s; *p != '\0'; p++) {
		if (p != s && p[-1] != ' ')
			continue;
		for (q = w; *q != '\0' && p[q - w] == *q; q++)
			;
		if (*q == '\0' && (p[q - w] == '\0' || p[q - w] == ' '))
			return 1;
	}
	return 0;
}

static void
poweroff(void)
{
	puts_("TINY: poweroff\n");
	outw(PM1A_CNT, SLP_TYP_S5 | SLP_EN);
	puts_("TINY: still running after poweroff\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void
test_mmio(void)
{
	volatile uint32_t *p = (volatile uint32_t *)UNCLAIMED_MMIO;
	uint32_t v;

	*p = 0x12345678;	/* dropped by the bus */
	v = *p;
	puts_(v == 0xffffffffU ? "TINY: mmio ok\n" : "TINY: mmio bad ");
	if (v != 0xffffffffU) {
		puthex(v);
		puts_("\n");
	}
}

static void
echo_line(void)
{
	char buf[80];
	unsigned int n = 0;
	uint8_t c;

	puts_("TINY: ready\n");
	for (;;) {
		while (!(inb(COM1 + 5) & LSR_DR))
			;
		c = inb(COM1);
		if (c == '\r' || c == '\n')
			break;
		if (n < sizeof(buf) - 1)
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	puts_("TINY: got ");
	puts_(buf);
	puts_("\n");
	if (n == 5 && buf[0] == 'r' && buf[1] == 'e' && buf[2] == 's' &&
	    buf[3] == 'e' && buf[4] == 't')
		outb(0x64, 0xfe);
}

void
tiny_main(const uint8_t *bp)
{
	const char *cmdline = (const char *)(uintptr_t)
	    *(const volatile uint32_t *)(bp + 0x228);
	struct {
		uint16_t	limit;
		uint64_t	base;
	} __attribute__((packed)) null_idt = { 0, 0 };

	puts_("TINY: hello cmdline=[");
	puts_(cmdline);
	puts_("]\n");
	if (has_word(cmdline, "triple")) {
		puts_("TINY: triple fault\n");
		__asm__ volatile("lidt %0; int3" : : "m"(null_idt));
	} else if (has_word(cmdline, "reset")) {
		puts_("TINY: reset\n");
		outb(0x64, 0xfe);
	} else if (has_word(cmdline, "hang")) {
		puts_("TINY: hang\n");
		for (;;)
			__asm__ volatile("cli; hlt");
	} else if (has_word(cmdline, "echo")) {
		echo_line();
	} else {
		test_mmio();
	}
	poweroff();
}
