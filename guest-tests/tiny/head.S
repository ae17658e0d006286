/*
 * The tiny test payload as a bzImage: a setup header (Linux boot protocol
 * 2.15, 64-bit entry only) and startup_64 at 0x200 into the protected-mode
 * image, which Hull loads at pref_address (1 MiB).
 */
	.section .setup, "a"
	.org	0x1f1
	.byte	1			/* setup_sects: image starts at 0x400 */
	.org	0x1fe
	.word	0xaa55			/* boot_flag */
	.byte	0xeb, 0x6a		/* jump; header ends at 0x202 + 0x6a */
	.ascii	"HdrS"			/* 0x202 */
	.word	0x020f			/* 0x206 version 2.15 */
	.org	0x211
	.byte	0x01			/* loadflags: LOADED_HIGH */
	.org	0x22c
	.long	0x7fffffff		/* initrd_addr_max */
	.long	0x200000		/* kernel_alignment */
	.byte	0			/* relocatable_kernel */
	.org	0x236
	.word	0x0001			/* xloadflags: XLF_KERNEL_64 */
	.long	255			/* cmdline_size */
	.org	0x258
	.quad	0x100000		/* pref_address */
	.long	0x20000			/* init_size */
	.org	0x400

	.section .text.head, "ax"
	.code64
	.org	0x200
	.globl	startup_64
startup_64:
	lea	stack_top(%rip), %rsp
	mov	%rsi, %rdi		/* struct boot_params */
	call	tiny_main
1:	cli
	hlt
	jmp	1b

	.section .bss
	.balign	16
	.space	16384
stack_top:
